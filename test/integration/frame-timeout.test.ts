import test from 'ava';
import { assertOneLineError } from '../helpers/assert.js';
import { Client } from '../helpers/client.js';
import { runSs, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

// --frame-timeout: a message must arrive whole within it.

test('frame_timeout closes a connection whose message trickles in, even when the trickle keeps it from being idle', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring', '--frame-timeout', '1', '--keep-alive', '0']);
  const steady = await Client.open(ss.port);
  const trickle = await Client.open(ss.port);
  const started = Date.now();
  trickle.send('10:');
  let closedAfter = 0;
  for (let i = 0; i < 16 && !trickle.closed; i++) { // 4 s at most
    await sleep(250);
    trickle.send('a');
    steady.send('1:x,'); // whole messages, each its own: never pending for long
    t.is(String(await steady.read(4)), '1:x,');
  }
  if (trickle.closed) closedAfter = Date.now() - started;
  t.true(trickle.closed, 'the trickling client was closed');
  // Due after 1 s, plus up to one sweep period (250 ms) and this loop's step on a busy machine.
  t.true(closedAfter >= 1000 && closedAfter < 3500, `closed ${closedAfter} ms after its first byte`);
  t.false(steady.closed, 'a client sending whole messages is not affected');
  const line = await ss.waitForLog((l) => l.level === 40 && l.peer === `127.0.0.1:${trickle.localPort}`);
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): timed out: message incomplete after 1s \(--frame-timeout\); closed$/);
  steady.destroy();
});

test('frame_timeout works for every protocol (line), and 0 never closes', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--frame-timeout', '0.5', '--keep-alive', '10']);
  const c = await Client.open(ss.port);
  c.send('par');
  await sleep(200);
  c.send('tial');
  await c.waitClose(3000);
  await ss.waitForLog((l) => l.level === 40 && /message incomplete after 0\.5s/.test(l.msg));

  const never = await startSs(t, ['--plugin', 'line', '--frame-timeout', '0', '--keep-alive', '0']);
  const d = await Client.open(never.port);
  d.send('slow');
  await sleep(1500);
  t.false(d.closed);
  d.send(' but whole\n');
  t.deepEqual(await d.lines(1), ['slow but whole']);
  d.destroy();
});

test('--frame-timeout with a bad value exits 2 naming the setting', async (t) => {
  const r = await runSs(['serve', '--plugin', 'line', '--frame-timeout', 'soon']);
  assertOneLineError(t, r, 2, ['invalid --frame-timeout', 'seconds']);
});
