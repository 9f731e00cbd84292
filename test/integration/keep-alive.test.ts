import test from 'ava';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

test('keep-alive closes an idle connection and spares an active one', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--keep-alive', '1']);
  const idle = await Client.open(ss.port);
  const active = await Client.open(ss.port);
  const opened = Date.now();
  // The active client talks every 250 ms for 3 s (three keep-alive periods).
  let lastActivity = 0;
  for (let i = 0; i < 12; i++) {
    await sleep(250);
    active.send(`ping ${i}\n`);
    t.deepEqual(await active.lines(1), [`ping ${i}`]);
    lastActivity = Date.now();
  }
  t.true(idle.closed, 'the idle connection was closed');
  t.false(active.closed, 'the active connection is still open');
  await active.waitClose(6000);
  t.true(Date.now() - lastActivity >= 900, 'closed only after a second of silence');
  t.true(Date.now() - opened < 15_000);
});

test('keep-alive: a connection waiting for a slow reply is not idle', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--keep-alive', '1', '--handler', './test/fixtures/runtime/handler.ts']);
  const c = await Client.open(ss.port);
  c.send('slow:1500:late\n'); // the handler takes longer than the keep-alive
  t.deepEqual(await c.lines(1, 5000), ['late']);
  t.false(c.closed);
  c.destroy();
});

test('keep-alive 0 never closes an idle connection', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--keep-alive', '0']);
  const c = await Client.open(ss.port);
  await sleep(2500);
  t.false(c.closed);
  c.send('still here\n');
  t.deepEqual(await c.lines(1), ['still here']);
  c.destroy();
});
