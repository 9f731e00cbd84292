import { connect, type Socket } from 'node:net';
import { sleep } from './wait.js';

// RESP connections read as raw text, for tests that compare kv's bytes with redis-server's.

/** A command as a RESP array of bulk strings. */
export const encodeCommand = (args: readonly (string | Buffer)[]): Buffer => Buffer.concat([
  Buffer.from(`*${args.length}\r\n`),
  ...args.flatMap((a) => [Buffer.from(`$${Buffer.byteLength(a)}\r\n`), Buffer.from(a), Buffer.from('\r\n')]),
]);

const MARKER = '\x00-done-\x00';
const MARKER_REPLY = `$${MARKER.length}\r\n${MARKER}\r\n`;

export interface Peer {
  readonly socket: Socket;
  /** What came since the last take or ask, once nothing more has come for `quietMs` (at most `maxMs`). */
  take(quietMs?: number, maxMs?: number): Promise<string>;
  /** Send `bytes` and an ECHO of a marker in one write: what came before the marker's reply (at most 10 s). */
  ask(bytes: string | Buffer): Promise<string>;
  close(): void;
}

/** A connection to `port` on loopback whose input is kept as latin1 text. */
export function openPeer(port: number): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let got = '';
      socket.setEncoding('latin1').on('data', (d: string) => { got += d; });
      const taken = (end: number): string => {
        const out = got.slice(0, end);
        got = got.slice(end + (end < got.length ? MARKER_REPLY.length : 0));
        return out;
      };
      resolve({
        socket,
        take: async (quietMs = 200, maxMs = 10_000) => {
          const until = Date.now() + maxMs;
          let seen = -1;
          while (Date.now() < until && seen !== got.length) {
            seen = got.length;
            await sleep(quietMs);
          }
          return taken(got.length);
        },
        ask: async (bytes) => {
          socket.write(Buffer.concat([Buffer.from(bytes), encodeCommand(['ECHO', MARKER])]));
          for (let i = 0; i < 400 && !got.endsWith(MARKER_REPLY); i++) await sleep(25);
          if (!got.endsWith(MARKER_REPLY)) throw new Error(`no reply within 10 s (got ${JSON.stringify(got)})`);
          return taken(got.length - MARKER_REPLY.length);
        },
        close: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

/** Send `lines` at once (inline commands) and return every byte received until `quietMs` pass without any (at most 10 s). */
export async function converse(port: number, lines: readonly string[], quietMs = 300): Promise<string> {
  const peer = await openPeer(port);
  try {
    peer.socket.write(lines.map((l) => `${l}\r\n`).join(''));
    return await peer.take(quietMs);
  } finally {
    peer.close();
  }
}
