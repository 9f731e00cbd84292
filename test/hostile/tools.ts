import { connect, type Socket } from 'node:net';
import type { Ctx } from './attack.js';

export const MiB = 2 ** 20;

/** A connection to 127.0.0.1:port (from `localAddress` if given). What it receives is discarded unless `keep`. */
export function open(port: number, opts: { localAddress?: string; keep?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => { /* a reset: seen as the close */ });
      if (!opts.keep) socket.resume();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** `n` connections, opened 100 at a time; fewer if the attack's time is up or connects fail. */
export async function openMany(ctx: Ctx, n: number, opts: { localAddress?: string } = {}): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let failed = 0;
  while (sockets.length < n && !ctx.signal.aborted) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(100, n - sockets.length) }, () => open(ctx.port, opts)));
    for (const r of batch) if (r.status === 'fulfilled') sockets.push(r.value); else failed++;
    if (failed > n) break;
  }
  return sockets;
}

export const isOpen = (s: Socket): boolean => !s.destroyed && s.readyState === 'open';

/**
 * Write what `next()` gives (undefined: done) as fast as the server reads it, waiting for the
 * socket to drain; stops when the socket closes or the signal is aborted. Resolves with the
 * bytes written.
 */
export async function pump(ctx: Ctx, socket: Socket, next: () => Uint8Array | undefined): Promise<number> {
  let written = 0;
  for (let chunk = next(); chunk !== undefined; chunk = next()) {
    if (ctx.signal.aborted || !isOpen(socket)) break;
    written += chunk.length;
    if (!socket.write(chunk)) await drained(ctx, socket);
  }
  return written;
}

/** Resolve when the socket drains, closes, or the signal is aborted. */
function drained(ctx: Ctx, socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done);
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    socket.on('drain', done).on('close', done);
    ctx.signal.addEventListener('abort', done);
  });
}

/** `chunk` repeated up to `total` bytes (the last one cut short). */
export function repeat(chunk: Buffer, total: number): () => Buffer | undefined {
  let left = total;
  return () => {
    if (left <= 0) return undefined;
    const n = Math.min(left, chunk.length);
    left -= n;
    return n === chunk.length ? chunk : chunk.subarray(0, n);
  };
}

const FILL = Buffer.alloc(MiB, 'x');

/** The parts in turn: a buffer as it is, a number as that many bytes of `x`. */
export function sequence(...parts: (Buffer | number)[]): () => Buffer | undefined {
  let i = 0;
  let fill: (() => Buffer | undefined) | undefined;
  return () => {
    for (;;) {
      const chunk = fill?.();
      if (chunk !== undefined) return chunk;
      fill = undefined;
      const part = parts[i++];
      if (part === undefined) return undefined;
      if (typeof part !== 'number') return part;
      fill = repeat(FILL, part);
    }
  };
}

/** Wait `ms`, or less if the signal is aborted. */
export function hold(ctx: Ctx, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    ctx.signal.addEventListener('abort', done);
  });
}

/** Resolve when `socket` closes, or after `ms`, or when aborted; true if it closed. */
export async function closedWithin(ctx: Ctx, socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off('close', done);
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.on('close', done);
    ctx.signal.addEventListener('abort', done);
  });
  return socket.destroyed;
}

/** Bytes as MiB, rounded. */
export const mib = (n: number): string => `${Math.round(n / MiB)} MiB`;

/** A RESP command. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * A connection that counts what it received and waits, within the attack's time, for a byte
 * count or a text — enough to follow replies whose size is known (pipelined +OK, a KEYS array).
 */
export class Reader {
  received = 0;
  /** Newlines received: the count of one-line replies (+OK, -ERR, :1) when only those come. */
  newlines = 0;
  /** The last bytes received (for error replies), at most 4 KiB. */
  tail = '';
  closed = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.received += b.length;
      this.newlines += lines(b);
      this.tail = (this.tail + b.subarray(Math.max(0, b.length - 4096)).toString('latin1')).slice(-4096);
      this.wake?.();
    });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
  }

  /** Resolve true once `pred()` holds; false when closed, aborted, or after `ms`. */
  async until(ctx: Ctx, pred: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (this.closed || ctx.signal.aborted || Date.now() >= end) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(100, end - Date.now()));
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    return true;
  }
}

/** Newlines in a buffer. */
export function lines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}
