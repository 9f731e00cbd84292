import type { SyslogCounts } from './counts.js';
import type { SyslogMessage } from './parse.js';

/** Past this many bytes waiting to be written, lines are dropped (an unread stdout must not grow memory). */
export const MAX_PENDING = 16 * 1024 * 1024;

/** Where lines go: stdout, or a stand-in in tests. */
export interface LineOut {
  write(line: string): unknown;
  readonly writableLength: number;
}

/**
 * A message as its JSON line has it: every field parsed (absent ones left out, the timestamp
 * ISO), `raw` only when the message is malformed (what could not be parsed is then there).
 */
export function jsonOf(m: SyslogMessage): Record<string, unknown> {
  const { raw, ...fields } = m;
  return m.malformed ? { ...fields, raw } : fields;
}

/**
 * The default handler: one JSON line per message, each line one write (on a pipe, a write under
 * 4096 bytes is not split between workers). When `out` holds more than `maxPending` bytes not yet
 * written (nobody reads it), lines are dropped and counted. Syslog has no replies.
 */
export function jsonLineWriter(out: LineOut, counts: SyslogCounts, maxPending = MAX_PENDING): (message: SyslogMessage) => undefined {
  return (message) => {
    if (out.writableLength > maxPending) counts.dropped++;
    else out.write(`${JSON.stringify(jsonOf(message))}\n`);
    return undefined;
  };
}
