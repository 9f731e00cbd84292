import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { StartupError, UsageError, type Discovery } from '@socketserver/core';
import { requestInfo } from '@socketserver/core/process';
import type { Options } from '../program.js';
import { findServer, type Fields } from './info.js';
import { frame, type Sample } from './top-frame.js';

/** Alternate screen and hidden cursor, and back. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
/** Signals that end ss top in a terminal (Ctrl-C arrives as a key in raw mode, SIGINT only from kill). */
const SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;

function intervalOf(opts: Options): number {
  const v = opts.interval;
  if (v === undefined) return 1;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!(n >= 0.1 && n <= 3600)) throw new UsageError(`invalid --interval "${v === true ? '' : String(v)}": expected seconds from 0.1 to 3600`);
  return n;
}

/** The next document; after the first, a failure means the server went away. */
async function ask(pid: number, before: boolean): Promise<Fields> {
  try {
    return await requestInfo(pid);
  } catch (err) {
    throw new StartupError(before ? `server ${pid} went away: ${(err as Error).message}` : (err as Error).message);
  }
}

/** Resolve after `ms`, or with the exit code if ss top is told to quit first. */
function wait(ms: number, quitting: Promise<number>): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); }), quitting]).finally(() => clearTimeout(timer));
}

/** `--once`: two documents `interval` apart, one frame as plain text (its rates and means are of that interval). */
async function once(pid: number, interval: number): Promise<number> {
  const prev = await ask(pid, false);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, interval * 1000));
  const cur = await ask(pid, true);
  const lines = frame({ cur, prev, seconds: (performance.now() - t0) / 1000 }, { width: process.stdout.columns ?? 80, interval });
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** The live view: redrawn in place every interval until q, Ctrl-C or a signal; the terminal is restored whatever ends it. */
async function live(pid: number, interval: number): Promise<number> {
  const { stdin, stdout } = process;
  let quit!: (code: number) => void;
  const quitting = new Promise<number>((r) => { quit = r; });
  const onKey = (b: Buffer) => { if (/[qQ\x03]/.test(b.toString('latin1'))) quit(0); };
  const onSignal = (sig: NodeJS.Signals) => quit(128 + constants.signals[sig]);
  let last: Sample | undefined;
  const draw = () => {
    if (!last) return;
    const lines = frame(last, { width: stdout.columns ?? 80, height: stdout.rows, interval });
    // Home, each line then erase to its end, erase below: no flicker, no scrolling.
    stdout.write(`\x1b[H${lines.join('\x1b[K\r\n')}\x1b[K\x1b[J`);
  };
  stdin.setRawMode(true);
  stdin.on('data', onKey).resume();
  for (const sig of SIGNALS) process.on(sig, onSignal);
  stdout.on('resize', draw);
  stdout.write(ENTER);
  try {
    let prev: Fields | undefined;
    let prevAt = 0;
    for (;;) {
      const cur = await Promise.race([ask(pid, prev !== undefined), quitting]);
      if (typeof cur === 'number') return cur;
      const at = performance.now();
      last = { cur, prev, seconds: (at - prevAt) / 1000 };
      draw();
      [prev, prevAt] = [cur, at];
      const code = await wait(interval * 1000, quitting);
      if (code !== undefined) return code;
    }
  } finally {
    stdout.off('resize', draw);
    for (const sig of SIGNALS) process.off(sig, onSignal);
    stdin.off('data', onKey).pause();
    try {
      stdin.setRawMode(false);
      stdout.write(LEAVE);
    } catch { /* the terminal is gone (SIGHUP) */ }
  }
}

/** `ss top`: a live view of a running server from its info documents. */
export async function topCommand(discoveries: Discovery[], cli: Record<string, unknown>, opts: Options): Promise<number> {
  const interval = intervalOf(opts);
  const oneFrame = opts.once === true;
  if (!oneFrame && !(process.stdin.isTTY && process.stdout.isTTY)) throw new UsageError('not a terminal: use --once to print one frame');
  const pid = findServer(discoveries[0]!, cli, opts);
  return oneFrame ? once(pid, interval) : live(pid, interval);
}
