import test from 'ava';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

const HOLD = './test/fixtures/runtime/hold-handler.mjs';

// Plain connections read into one buffer the process shares, then copy each read into a slab
// (core/src/net/read-slab.ts). A message handed to a handler is a view: it must still hold its
// bytes after later reads of any connection, and a large read must arrive whole.
for (const workers of ['0', '1']) {
  test(`workers ${workers}: messages an async handler keeps are not overwritten by later reads of any connection`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', workers, '--handler', HOLD]);
    const clients = await Promise.all(Array.from({ length: 8 }, () => Client.open(ss.port)));
    const sent = clients.map((_, c) => Array.from({ length: 300 }, (_, i) => `client ${c} line ${i} ${String(c).repeat(i % 40)}`));
    // Many small writes per client, interleaved across clients: each read lands in the shared
    // buffer while earlier messages of every client still wait in the handler.
    for (let i = 0; i < 300; i += 10) {
      clients.forEach((client, c) => client.send(`${sent[c]!.slice(i, i + 10).join('\n')}\n`));
      await sleep(2);
    }
    const got = await Promise.all(clients.map((client) => client.lines(300, 15_000)));
    got.forEach((lines, c) => t.deepEqual(lines, sent[c], `client ${c}: every reply is its request, in order`));
    for (const client of clients) client.destroy();
  });
}

test('a 1 MiB line (reads too large for a slab share) kept by the handler comes back whole', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '0', '--max-line', '4mb', '--handler', HOLD]);
  const c = await Client.open(ss.port);
  const small = await Client.open(ss.port);
  const big = Buffer.alloc(1024 * 1024, 'abcdefghijklmnopqrstuvwxyz');
  c.send(Buffer.concat([big, Buffer.from('\nend\n')]));
  small.send('a\nb\n');
  t.deepEqual(await small.lines(2), ['a', 'b']);
  const lines = await c.lines(2, 15_000);
  t.is(lines[0]!.length, big.length);
  t.true(lines[0] === big.toString('latin1'), 'the big line came back byte for byte');
  t.is(lines[1], 'end');
  c.destroy();
  small.destroy();
});
