import { connect } from 'node:net';
import type { TestFn } from 'ava';
import { respClient, RespError, type RespValue } from '@socketserver/plugin-resp';
import { startSs, type SsProcess } from './ss.js';

/** A reply made easy to compare: simple strings as `+TEXT`, errors as `-TEXT`, bulks as latin1 strings. */
export type Plain = string | number | bigint | null | Plain[];

export interface Caller {
  /** Send one command; its reply, plain. */
  call(...args: (string | number)[]): Promise<Plain>;
  close(): void;
}

function plain(v: RespValue, simple: boolean): Plain {
  if (v instanceof RespError) return `-${v.message}`;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (typeof v === 'string') return simple ? `+${v}` : v;
  if (Array.isArray(v)) return v.map((x) => plain(x, simple));
  return v as Plain;
}

/** One RESP connection to `port` on loopback, replies in order; each waits at most 10 s. */
export function caller(port: number): Promise<Caller> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = respClient();
    const waiting: { resolve(v: Plain): void; reject(e: Error): void; timer: NodeJS.Timeout }[] = [];
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      let start = 0;
      for (;;) {
        const value = decoder.decodeAt(data, start);
        if (value === undefined) break;
        start = decoder.next;
        const w = waiting.shift();
        if (w !== undefined) {
          clearTimeout(w.timer);
          w.resolve(plain(value, true));
        }
      }
      data = Buffer.from(data.subarray(start));
    });
    socket.once('error', reject);
    socket.once('connect', () => resolve({
      call: (...args) => new Promise<Plain>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no reply to ${String(args[0])} within 10 s`)), 10_000);
        waiting.push({ resolve: res, reject: rej, timer });
        const parts = args.map((a) => Buffer.from(String(a), 'latin1'));
        socket.write(Buffer.concat([Buffer.from(`*${parts.length}\r\n`), ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n')])]));
      }),
      close: () => socket.destroy(),
    }));
  });
}

export type Call = (...args: (string | number)[]) => Promise<Plain>;

/**
 * One `ss` with kv for a whole test file (its tests serial): started before them and stopped
 * after, flushed before each test, then `each` run. `call` sends a command; `port()` is the server's.
 */
export function kvPerFile(test: TestFn, each?: (call: Call) => Promise<unknown>): { call: Call; port: () => number } {
  let ss: SsProcess | undefined;
  let r: Caller | undefined;
  const call: Call = (...args) => r!.call(...args);
  test.before(async () => {
    ss = await startSs(['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
    r = await caller(ss.port);
  });
  test.after.always(async () => {
    r?.close();
    await ss?.stop();
  });
  test.beforeEach(async () => {
    await call('FLUSHALL');
    await each?.(call);
  });
  return { call, port: () => ss!.port };
}
