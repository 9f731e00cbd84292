import type { SyslogMessage } from './parse.js';

/**
 * A message as its JSON line has it: every field parsed (absent ones left out, the timestamp
 * ISO), `raw` only when the message is malformed (what could not be parsed is then there).
 */
export function jsonOf(m: SyslogMessage): Record<string, unknown> {
  const { raw, ...fields } = m;
  return m.malformed ? { ...fields, raw } : fields;
}

/**
 * The default handler: one JSON line per message on stdout, written at once (stdout is
 * synchronous for files and pipes; a line under 4096 bytes is never split between workers).
 * Syslog has no replies.
 */
export function writeJsonLine(message: SyslogMessage): undefined {
  process.stdout.write(`${JSON.stringify(jsonOf(message))}\n`);
  return undefined;
}
