import test from 'ava';
import { join } from 'node:path';
import { ask, Client } from '../helpers/client.js';
import { eventually, REPO, ssInfo, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// The figures `ss info --json` (and so `ss top` and the metrics plugin) read: restarts by
// reason, connections closed by reason, bytes, and the sampled time of plugins' taps.

const RECORDER = join(REPO, 'test/fixtures/runtime/recorder.mjs');

/** Sum of one figure over every worker's entry. */
const sum = (info: Record<string, any>, pick: (w: Record<string, any>) => number) =>
  (info.workers as Record<string, any>[]).reduce((n, w) => n + (w.stats ? pick(w) : 0), 0);

test('restarts by reason: a killed worker is a crash, a silent one a timeout, HUP a reload, max_requests its own', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--timeout', '2', '--max-requests', '40', '--max-requests-jitter', '0']);
  const restarts = async () => (await ssInfo(ss.pid)).monitors[0].restarts;
  t.deepEqual(await restarts(), { crash: 0, timeout: 0, max_requests: 0, reload: 0 });

  const [one, two] = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => w.pid);
  process.kill(one, 'SIGKILL');
  await eventually(async () => ((await restarts()).crash === 1 ? true : undefined), 'a crash counted');

  process.kill(two, 'SIGSTOP'); // its heartbeat stops: killed after --timeout and replaced
  t.teardown(() => { try { process.kill(two, 'SIGCONT'); } catch { /* gone */ } });
  await eventually(async () => ((await restarts()).timeout === 1 ? true : undefined), 'a timeout counted', 20_000);

  await eventually(async () => ((await ssInfo(ss.pid)).workers.filter((w: { state: string }) => w.state === 'running').length === 2 ? true : undefined), 'two workers again', 20_000);
  // 100 requests over two workers: at least one reaches 40 and is replaced.
  for (let i = 0; i < 100; i++) t.is(await ask(ss.port, `r${i}`), `r${i}`);
  await eventually(async () => ((await restarts()).max_requests >= 1 ? true : undefined), 'a max_requests restart counted', 20_000);

  const before = await restarts();
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg === 'line: reloaded, every worker runs the new config', 30_000);
  const after = await restarts();
  t.is(after.reload, before.reload + 2, 'both workers replaced by the reload');
  t.is(after.crash, 1);
  t.is(after.timeout, 1);
});

test('connections closed by reason, and bytes, as the workers count them', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--keep-alive', '1', '--max-line', '8']);
  t.is(await ask(ss.port, 'hello'), 'hello'); // clean: 6 bytes each way

  const idle = await Client.open(ss.port);
  await idle.waitClose(10_000); // closed by the server after keep_alive

  const bad = await Client.open(ss.port);
  bad.send('far too long a line\n');
  await bad.waitClose(10_000);

  const reset = await Client.open(ss.port);
  reset.send('abc\n');
  await reset.lines(1);
  reset.socket.resetAndDestroy();

  const info = await eventually(async () => {
    const doc = await ssInfo(ss.pid);
    return sum(doc, (w) => w.stats.connections.closed.reset) === 1 ? doc : undefined;
  }, 'the reset counted');
  const closed = info.workers[0].stats.connections.closed;
  t.deepEqual(closed, { clean: 1, idle: 1, bad_input: 1, handler_error: 0, reset: 1, shutdown: 0, refused: 0, proxy_error: 0, tls_error: 0, per_ip_limit: 0, handler_timeout: 0, memory_limit: 0, slow_consumer: 0 });
  t.is(info.workers[0].stats.connections.accepted, 4);
  t.is(info.workers[0].stats.requests, 2);
  t.deepEqual(info.workers[0].stats.bytes, { received: 6 + 20 + 4, sent: 6 + 4 });
});

test('hook time: each plugin\'s per-request taps are counted, and one call in 64 is timed', async (t) => {
  const events = join(tempDir(t, 'rec'), 'events.jsonl');
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--plugin', RECORDER, '--events-file', events]);
  const c = await Client.open(ss.port);
  c.send(Array.from({ length: 128 }, (_, i) => `m${i}\n`).join(''));
  await c.lines(128);
  c.destroy();
  const info = await eventually(async () => {
    const doc = await ssInfo(ss.pid);
    return doc.workers[0].hooks.recorder?.connectionLost ? doc : undefined;
  }, 'the connection\'s end counted');
  const hooks = info.workers[0].hooks.recorder;
  t.is(hooks.preRequest.calls, 128);
  t.is(hooks.postRequest.calls, 128);
  t.is(hooks.connectionMade.calls, 1);
  t.true(hooks.preRequest.meanUs > 0, 'two calls of 128 were timed');
  t.is(hooks.preRequest.sampled, 2);
  t.true(hooks.preRequest.seconds > 0 && Math.abs(hooks.preRequest.seconds / 2 * 1e6 - hooks.preRequest.meanUs) <= 0.1, 'their time, which ss top takes the growth of');
  t.is(hooks.connectionMade.meanUs, null, 'one call: none timed yet');
  t.like(hooks.connectionMade, { sampled: 0, seconds: 0 });
  t.is(info.workers[0].stats.handler.sampled, 2, 'the handler too, one request in 64');
});
