// The redis-* workloads' "no framework" reference: a hand-written node:net server with the
// same RESP decoder and encoder as the resp plugin and the same store (resp-kv-handler.mjs),
// one write per read. It shows what Node itself reaches against redis-server on this machine.
//
//   node test/dist/bench/resp-bare-server.js <port>
//
// Listens on 127.0.0.1 (port 0 = any), prints `listening 127.0.0.1:PORT` on stdout, stops on SIGTERM.
import { createServer } from 'node:net';
import { RespProtocol } from '@socketserver/plugin-resp';

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port)) {
  console.error('usage: resp-bare-server <port>');
  process.exit(2);
}
// The store ss serves in the bench, a plain .mjs beside this file's source (this runs from test/dist/bench).
const { default: store } = await import(new URL('../../bench/resp-kv-handler.mjs', import.meta.url).href) as
  { default: (args: Buffer[]) => Parameters<RespProtocol['encodeInto']>[0] };

const server = createServer({ noDelay: true }, (socket) => {
  const protocol = new RespProtocol(512 * 1024 * 1024, 2 ** 31 - 1);
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    const replies: ReturnType<typeof store>[] = [];
    let start = 0;
    let total = 0;
    try {
      while (start < data.length) {
        const message = protocol.decodeAt(data, start);
        if (message === undefined) {
          if (protocol.next > start) { start = protocol.next; continue; }
          break;
        }
        start = protocol.next;
        const reply = store(message);
        replies.push(reply);
        total += protocol.encodedLength(reply);
      }
    } catch {
      socket.destroy();
      return;
    }
    protocol.next = 0;
    pending = start < data.length ? data.subarray(start) : undefined;
    if (replies.length === 0) return;
    const out = Buffer.allocUnsafe(total);
    let offset = 0;
    for (const reply of replies) offset = protocol.encodeInto(reply, out, offset);
    socket.write(out);
  });
  socket.on('error', () => socket.destroy());
});
server.listen({ host: '127.0.0.1', port }, () => {
  const addr = server.address();
  console.log(`listening 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
