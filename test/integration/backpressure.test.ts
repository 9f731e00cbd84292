import test from 'ava';
import { readFileSync } from 'node:fs';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const TOTAL = 256 * MiB;
const CHUNK = MiB;

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) * 1024;
}

/** Chunk i of the stream: a pattern that differs per chunk, so a lost or reordered chunk shows. */
function chunk(i: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK);
  for (let o = 0; o < CHUNK; o += 4) b.writeUInt32LE((i * 2654435761 + o) >>> 0, o);
  return b;
}

test('a client writing 256 MiB without reading is paused, not buffered: server memory grows < 64 MiB and every byte comes back intact', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', '--keep-alive', '0']);
  const c = await Client.open(ss.port);
  const before = rssBytes(ss.pid);

  // Write everything without reading: it queues in this process and in the kernel, and the
  // server must stop reading once its replies are not being read.
  c.socket.pause();
  for (let i = 0; i < TOTAL / CHUNK; i++) c.socket.write(chunk(i));
  let last = -1;
  for (let i = 0; i < 100 && c.socket.writableLength !== last; i++) { // until the flow has stopped (≤ 10 s)
    last = c.socket.writableLength;
    await sleep(100);
  }
  t.true(c.socket.writableLength > TOTAL / 2, 'most of the stream is still waiting on the client side');
  const grown = rssBytes(ss.pid) - before;
  t.true(grown < 64 * MiB, `server RSS grew by ${(grown / MiB).toFixed(1)} MiB`);

  // Now read: every byte comes back, in order.
  let received = 0;
  let index = 0;
  let expected = chunk(0);
  let offset = 0;
  let mismatch = -1;
  c.socket.removeAllListeners('data');
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received} bytes came back`)), 120_000);
    c.socket.on('data', (data: Buffer) => {
      let p = 0;
      while (p < data.length && mismatch < 0) {
        const n = Math.min(data.length - p, CHUNK - offset);
        if (data.compare(expected, offset, offset + n, p, p + n) !== 0) mismatch = received + p;
        p += n;
        offset += n;
        if (offset === CHUNK) {
          offset = 0;
          index++;
          if (index < TOTAL / CHUNK) expected = chunk(index);
        }
      }
      received += data.length;
      if (received >= TOTAL || mismatch >= 0) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  c.socket.resume();
  await done;
  t.is(mismatch, -1, 'no byte differs');
  t.is(received, TOTAL);
  c.destroy();
});
