import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isatty, WriteStream } from 'node:tty';
import type { Logger } from 'pino';

// require(), not import: an ESM import of a CommonJS package runs Node's export lexer over it,
// hot enough at start-up to be optimised, which costs every worker megabytes of RSS.
const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');

export type { Logger };

/** The `log_level` setting's choices, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The `log_format` setting's choices: `auto` is pretty when the log goes to a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * One event per line on `fd` (stderr unless given), written synchronously so nothing is lost at
 * exit: a JSON line, or in `pretty` format (and `auto` on a terminal) a line a person reads.
 */
export function createLogger(level: string, name?: string, format: LogFormat = 'auto', fd = 2): Logger {
  const base = name ? { pid: process.pid, name } : { pid: process.pid };
  if (format === 'json' || (format === 'auto' && !isatty(fd))) {
    return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: true }));
  }
  // Epoch milliseconds: the pretty line shows local time, so pino need not build an ISO string.
  const colour = hasColour(fd, process.env);
  return pino({ level, base, timestamp: pino.stdTimeFunctions.epochTime }, { write: (line: string) => writeAll(fd, formatLine(line, colour)) });
}

// ---- pretty format: only a logger in pretty format runs (and so compiles) what follows ----

/**
 * Whether pretty lines on `fd` get colour: FORCE_COLOR turns it on (off when 0 or false) wherever
 * the lines go; otherwise only on a terminal that has colour (NO_COLOR, TERM=dumb: none). The
 * terminal's own answer, `process.stderr.hasColors()`, does not need `process.stderr`, which a
 * worker thread lacks as a terminal.
 */
export function hasColour(fd: number, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return isatty(fd) && WriteStream.prototype.hasColors(env);
}

const LEVELS: Readonly<Record<number, readonly [string, string]>> = {
  10: ['TRACE', '\x1b[90m'], 20: ['DEBUG', '\x1b[36m'], 30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'], 50: ['ERROR', '\x1b[31m'], 60: ['FATAL', '\x1b[35m'],
};
/** What every line already says (time, pid, level, message) or does not need (name, hostname). */
const SHOWN = new Set(['time', 'pid', 'level', 'msg', 'name', 'hostname']);
/** An error's fields the stack already shows. */
const IN_STACK = new Set(['type', 'message', 'stack']);

/**
 * One of pino's JSON lines as `[2026-12-02 05:06:51] [2296] INFO  message key=value ...`
 * (local time), then each error's stack indented on the lines below. A line that is not a JSON
 * object is passed through.
 */
export function formatLine(json: string, colour: boolean): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  if (typeof event !== 'object' || event === null) return json;
  const [label, paint] = LEVELS[event.level as number] ?? [clean(String(event.level).toUpperCase().padEnd(5)), ''];
  const time = `[${localTime(typeof event.time === 'number' ? event.time : Date.parse(String(event.time)))}]`;
  let out = colour ? `\x1b[2m${time}\x1b[22m [${event.pid}] ${paint}${label}\x1b[39m` : `${time} [${event.pid}] ${label}`;
  if (event.msg !== undefined) out += ` ${clean(String(event.msg))}`;
  let stacks = '';
  for (const [key, value] of Object.entries(event)) {
    if (SHOWN.has(key) || value === undefined) continue;
    if (isError(value)) {
      for (const [k, v] of Object.entries(value)) if (!IN_STACK.has(k)) out += ` ${clean(key)}.${clean(k)}=${quote(v)}`;
      stacks += `\n    ${stackLines(value).map((l) => clean(l.trim())).join('\n    ')}`;
    } else {
      out += ` ${clean(key)}=${quote(value)}`;
    }
  }
  return `${out}${stacks}\n`;
}

/** An error's stack, a line each; its message, which may hold newlines, stays on one (escaped later). */
function stackLines(err: { stack: string; message?: unknown }): string[] {
  const stack = err.stack.trimEnd();
  const message = err.message;
  const at = typeof message === 'string' && message.includes('\n') ? stack.indexOf(message) : -1;
  if (at === -1) return stack.split('\n');
  const [first, ...rest] = stack.slice(at + (message as string).length).split('\n');
  return [stack.slice(0, at) + (message as string) + first!, ...rest];
}

function isError(value: unknown): value is { stack: string } & Record<string, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { stack?: unknown }).stack === 'string';
}

/**
 * A value as it reads: a string bare when it is one plain word, else quoted and escaped as JSON;
 * anything else as compact JSON, quoted as a string when it has a space.
 */
function quote(value: unknown): string {
  if (typeof value !== 'string') {
    const text = JSON.stringify(value) ?? String(value);
    return clean(/\s/.test(text) ? JSON.stringify(text) : text);
  }
  return value === '' || /[\s"\\=\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(value) ? clean(JSON.stringify(value)) : value;
}

/**
 * What a terminal would act on rather than show, or what would start a line of its own: C0 and
 * C1 controls (an ANSI escape starts with ESC or CSI), DEL, line and paragraph separators and
 * bidirectional overrides. Log lines carry what clients sent (a PROXY header's unix path, a
 * message in an error), so none of it reaches the terminal raw.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** JSON's short escapes; the rest as \uXXXX, as JSON writes them. */
const SHORT: Readonly<Record<string, string>> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };
const escapeChar = (c: string): string => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` with its control characters escaped as JSON escapes them (and the others above alike). */
function clean(text: string): string {
  return text.replace(CONTROLS, escapeChar);
}

let lastSecond = NaN;
let lastStamp = '';
/** `YYYY-MM-DD HH:MM:SS` in local time; the string is made once a second. */
function localTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    const d = new Date(ms);
    const two = (n: number) => String(n).padStart(2, '0');
    lastSecond = second;
    lastStamp = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }
  return lastStamp;
}

let pause: Int32Array | undefined;
/** All of `text` on `fd`, now: waits out a full non-blocking pipe; a closed one drops the line. */
function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause ??= new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}
