import { write as fsWrite, writeSync } from 'node:fs';
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

/** Where a logger may write instead of a descriptor: each line, as it is logged (a test's `inject` keeps them). */
export interface LogSink {
  write(line: string): void;
}

/**
 * One event per line on `to`, a descriptor (stderr unless given): a JSON line, or in `pretty` format (and
 * `auto` on a terminal) a line a person reads. Lines never wait on their destination: see
 * LogDestination. Given a sink rather than a descriptor, JSON lines go to it as they are logged.
 */
export function createLogger(level: string, name?: string, format: LogFormat = 'auto', to: number | LogSink = 2): Logger {
  const base = name ? { pid: process.pid, name } : { pid: process.pid };
  if (typeof to !== 'number') return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, to);
  const out = destination(to);
  if (format === 'json' || (format === 'auto' && !isatty(to))) {
    return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, out);
  }
  // Epoch milliseconds: the pretty line shows local time, so pino need not build an ISO string.
  const colour = hasColour(to, process.env);
  out.pretty = colour ? 'colour' : 'plain';
  const pretty = { write: (line: string) => out.write(formatLine(line, colour)), flush: (done: () => void) => out.flush(done) };
  return pino({ level, base, timestamp: pino.stdTimeFunctions.epochTime }, pretty);
}

/** Log lines this process dropped because their destination was not taking them (see LogDestination). */
export function droppedLogLines(): number {
  return dropped;
}

/**
 * Resolves once every line logged so far in this process is written, or after `timeoutMs` (a
 * destination that is not draining): before a line written to stderr another way, so that it
 * comes after them.
 */
export function logsWritten(timeoutMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    let waiting = busy.size + 1;
    const timer = setTimeout(resolve, timeoutMs);
    const one = () => {
      if (--waiting > 0) return;
      clearTimeout(timer);
      resolve();
    };
    for (const d of busy) d.flush(one);
    one();
  });
}

// ---- writing without waiting ----

/** Bytes of lines held for a destination that is not taking them; past this, lines are dropped and counted. */
const HELD_MAX = 1024 * 1024;
/**
 * One write holds whole lines and at most this many bytes (but for a longer line): a pipe does
 * not split a write of up to PIPE_BUF (4096) between writers, and stderr is shared by every process.
 */
const WRITE_MAX = 4096;
/** A destination in non-blocking mode that took nothing (EAGAIN) is offered the lines again after this. */
const RETRY_MS = 20;
/** At exit, a destination in non-blocking mode that takes nothing for this long is given up. */
const EXIT_WAIT_MS = 2000;
/** At exit, what the write under way is given to be done before the rest is written. */
const EXIT_START_MS = 20;

/** Lines dropped in this process since it started. */
let dropped = 0;
/** The destinations holding lines not yet written: an exit writes them. */
const busy = new Set<LogDestination>();
let exitHooked = false;
/** Stderr's: every logger on it shares one, so lines keep their order. */
let stderr: LogDestination | undefined;

function destination(fd: number): LogDestination {
  if (fd === 2) return stderr ??= new LogDestination(fd);
  return new LogDestination(fd);
}

/**
 * Writes log lines to a descriptor without ever blocking the event loop. Stderr is often a pipe
 * or a socket (a service manager, `| tee`), and its reader may stop reading: a synchronous
 * write(2) would then stop the process, watchdog and all. So each write goes to libuv's thread
 * pool (fs.write), one at a time and in order, the lines logged meanwhile batched into the next
 * one. The descriptor's mode is left alone: it is shared with other processes, and it changes
 * under us (Node puts stderr in non-blocking mode when process.stderr is first used, a child's
 * start and a process's exit put it back), so a write may block in the pool or say EAGAIN,
 * and either way the event loop goes on. What the
 * destination has not taken is held, up to HELD_MAX bytes; past that, lines are dropped and
 * counted, and once the destination has taken everything again one warning line says how many.
 * At exit what is held is written after the write under way (see `exit`).
 */
class LogDestination {
  /** Set by a pretty logger: the dropped-lines notice is written in its form. */
  pretty: 'colour' | 'plain' | undefined;
  /** Lines dropped that no notice has told of yet. */
  private untold = 0;
  /** Lines not yet written, in chunks of whole lines of at most WRITE_MAX bytes. */
  private readonly chunks: string[] = [];
  private lastBytes = 0;
  /** Bytes held: in `chunks` and in the write under way. */
  private held = 0;
  /** A write is under way in the thread pool. */
  private writing = false;
  /** The destination said EAGAIN: `pending` goes again when this timer fires. */
  private retry: NodeJS.Timeout | undefined;
  /** What the write under way (or the retry) is writing. */
  private pending: Buffer | undefined;
  /** The destination is gone (EPIPE, EBADF): nothing more is written. */
  private closed = false;

  /** Waiting for everything held to be written (`flush`). */
  private flushed: ((err?: Error) => void)[] = [];

  constructor(private readonly fd: number) {}

  /** Takes a line, or drops it when too much is held already; never waits. */
  write(line: string): boolean {
    if (this.closed) return true;
    const bytes = Buffer.byteLength(line);
    if (this.held + bytes > HELD_MAX) {
      dropped++;
      this.untold++;
      return true;
    }
    this.hold(line, bytes);
    if (this.pending === undefined) this.next();
    return true;
  }

  private hold(line: string, bytes: number): void {
    const last = this.chunks.length - 1;
    if (last >= 0 && this.lastBytes + bytes <= WRITE_MAX) this.chunks[last] += line;
    else {
      this.chunks.push(line);
      this.lastBytes = 0;
    }
    this.lastBytes += bytes;
    this.held += bytes;
    busy.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => { for (const d of busy) d.exit(); });
    }
  }

  /** Start writing the next chunk, or, with nothing left, tell of the lines dropped. */
  private next(): void {
    if (this.chunks.length === 0 && this.untold > 0) {
      const n = this.untold;
      this.untold = 0;
      const line = this.notice(n);
      this.hold(line, Buffer.byteLength(line));
    }
    const chunk = this.chunks.shift();
    if (chunk === undefined) return this.idle();
    if (this.chunks.length === 0) this.lastBytes = 0;
    this.send(Buffer.from(chunk));
  }

  private send(buf: Buffer): void {
    this.pending = buf;
    this.writing = true;
    fsWrite(this.fd, buf, 0, buf.length, null, this.written);
  }

  private readonly written = (err: NodeJS.ErrnoException | null, n: number): void => {
    this.writing = false;
    const buf = this.pending!;
    if (err) {
      if (err.code === 'EAGAIN') {
        // Stderr in non-blocking mode (Node's process.stderr sets it; loading `assert` makes that): offered again shortly.
        (this.retry = setTimeout(() => { this.retry = undefined; this.send(buf); }, RETRY_MS)).unref();
      } else this.close();
      return;
    }
    this.held -= n;
    if (n < buf.length) return this.send(buf.subarray(n));
    this.pending = undefined;
    this.next();
  };

  /** Nobody reads the destination any more (EPIPE, EBADF): what is held goes nowhere. */
  private close(): void {
    this.closed = true;
    this.pending = undefined;
    this.chunks.length = 0;
    this.held = 0;
    this.idle();
  }

  /** `done` once every line logged so far is written (pino's `logger.flush`). */
  flush(done: (err?: Error) => void): void {
    if (this.pending === undefined) process.nextTick(done);
    else this.flushed.push(done);
  }

  private idle(): void {
    busy.delete(this);
    for (const done of this.flushed.splice(0)) done();
  }

  /** The warning line that says how many lines were dropped, in the loggers' form. */
  private notice(n: number): string {
    const line = `${JSON.stringify({
      level: 40, time: this.pretty === undefined ? new Date().toISOString() : Date.now(), pid: process.pid, dropped: n,
      msg: `${n} log line${n === 1 ? '' : 's'} dropped: the log destination was not draining`,
    })}\n`;
    return this.pretty === undefined ? line : formatLine(line, this.pretty === 'colour');
  }

  /**
   * The process exits: what is held is written here, after the write under way, giving up on a
   * destination that takes nothing for EXIT_WAIT_MS. That write, in the thread pool, cannot be
   * waited for without the event loop: it is given EXIT_START_MS to be done (stderr is usually
   * in non-blocking mode, so it does not wait on the destination). A destination in blocking
   * mode that takes nothing holds the exit, as the write under way already does: its mode is
   * not ours to change (the arbiter kills a worker that does not stop in time).
   */
  exit(): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    if (this.untold > 0) {
      const line = this.notice(this.untold);
      this.untold = 0;
      this.hold(line, Buffer.byteLength(line));
    }
    const rest = Buffer.from(this.chunks.splice(0).join(''));
    let buf = this.writing || this.pending === undefined ? rest : Buffer.concat([this.pending, rest]);
    if (this.writing) sleep(EXIT_START_MS);
    let until = Date.now() + EXIT_WAIT_MS;
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
        until = Date.now() + EXIT_WAIT_MS; // it takes them: it gets the time it needs
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= until) return;
        sleep(10);
      }
    }
  }
}

let pause: Int32Array | undefined;
/** Wait `ms` (at exit, where the event loop no longer runs). */
function sleep(ms: number): void {
  Atomics.wait(pause ??= new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
    } else if (!saidIn(event.msg, value)) {
      out += ` ${clean(key)}=${quote(value)}`;
    }
  }
  return `${out}${stacks}\n`;
}

/**
 * Whether the message already says `value` (a string or number) as a word of its own, as
 * `listening on 127.0.0.1:8060` says its address field: the pretty line shows it once.
 */
function saidIn(msg: unknown, value: unknown): boolean {
  if (typeof msg !== 'string' || (typeof value !== 'string' && typeof value !== 'number')) return false;
  const text = String(value);
  if (text === '') return false;
  for (let at = msg.indexOf(text); at !== -1; at = msg.indexOf(text, at + 1)) {
    if (!WORDISH.test(msg[at - 1] ?? ' ') && !WORDISH.test(msg[at + text.length] ?? ' ')) return true;
  }
  return false;
}
const WORDISH = /[\w.:\-/]/;

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
