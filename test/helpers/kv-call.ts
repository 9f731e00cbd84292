import { connect } from 'node:net';
import { respClient, RespError, type RespValue } from '@socketserver/plugin-resp';

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
