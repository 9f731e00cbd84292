import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { controlPath } from '@socketserver/core/process';
import { CHAOS } from '../helpers/chaos.js';
import { ask } from '../helpers/client.js';
import { isAlive, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';

// ss info on a real server: the document, its control channel, and info taps that misbehave.

test('ss info: the document of §9 with what an info hook plugin added in each worker and in the arbiter', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--plugin', join(FIXTURES, 'runtime', 'info-tap.mjs')]);
  t.is(await ask(ss.port, 'one'), 'one');
  const info = await ssInfo(ss.pid);
  t.is(info.arbiter.pid, ss.pid);
  t.is(info.arbiter.state, 'running');
  t.regex(info.arbiter.version, /^\d+\.\d+\.\d+/);
  t.true(info.arbiter.uptime >= 0);
  t.deepEqual(info.arbiterTap, { pid: ss.pid, place: 'arbiter' }, 'the arbiter\'s tap');
  t.deepEqual(info.monitors, [{
    name: 'line', addresses: [`127.0.0.1:${ss.port}`], workers: { wanted: 2, alive: 2 },
    restarts: { crash: 0, timeout: 0, max_requests: 0, reload: 0 },
  }]);
  t.is(info.workers.length, 2);
  for (const w of info.workers) {
    t.is(w.tapped, `worker ${w.id} pid ${w.pid}`, 'each worker\'s own tap');
    t.is(w.place, 'worker');
    t.is(w.server, 'line');
    t.is(w.state, 'running');
    t.true(w.memory > 1e6);
    t.is(typeof w.uptime, 'number');
    t.is(w.stats.requests, w.requests);
    t.is(w.stats.connections.accepted, w.connections.received);
  }
  const served = info.workers.find((w: { requests: number }) => w.requests === 1);
  t.deepEqual(served.stats.connections.closed, { clean: 1, idle: 0, bad_input: 0, handler_error: 0, reset: 0, shutdown: 0, refused: 0, proxy_error: 0, tls_error: 0, per_ip_limit: 0, handler_timeout: 0, memory_limit: 0, slow_consumer: 0 });
  t.deepEqual(served.stats.bytes, { received: 4, sent: 4 }, '"one\\n" each way');
  const total = (k: 'active' | 'received') => info.workers.reduce((n: number, w: { connections: Record<string, number> }) => n + w.connections[k], 0);
  t.is(total('received'), 1);
  t.is(info.workers.reduce((n: number, w: { requests: number }) => n + w.requests, 0), 1);

  const text = await runSs(['info', '--pid', String(ss.pid)]);
  t.is(text.code, 0);
  t.regex(text.stdout, new RegExp(`^arbiter  pid ${ss.pid}  line  up \\d+s  version \\S+  running`));
  t.regex(text.stdout, /\nserver line {2}127\.0\.0\.1:\d+ {2}workers 2\/2 alive\/wanted {2}restarts 0\n/);
  t.is(text.stdout.match(/\n {2}worker [12] {2}pid \d+ {2}running .* tapped="worker \d pid \d+"/g)?.length, 2);
});

for (const workers of ['1', '0']) {
  test(`the README's counter plugin, --workers ${workers}: each worker's entry has its count, the document's top level nothing`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', workers, '--plugin', join(FIXTURES, 'runtime', 'counter.mjs')]);
    t.is(await ask(ss.port, 'one'), 'one');
    t.is(await ask(ss.port, 'two'), 'two');
    const info = await ssInfo(ss.pid);
    t.is(info.counter, undefined, 'the arbiter has no requests to count');
    t.deepEqual(info.workers.map((w: { counter: unknown }) => w.counter), [{ requests: 2 }]);
  });
}

test('ss info: the channel is a unix socket only its owner can open; no server to ask is exit 1', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '1']);
  const st = statSync(controlPath(ss.pid));
  t.true(st.isSocket());
  t.is(st.mode & 0o777, 0o600);
  t.is(statSync(join(controlPath(ss.pid), '..')).mode & 0o777, 0o700);
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(existsSync(controlPath(ss.pid)), 'removed at exit');
  const gone = await runSs(['info', '--pid', String(ss.pid)]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, new RegExp(`^ss: no server with pid ${ss.pid} answers on .*${ss.pid}\\.sock\\n$`));
  const bad = await runSs(['info', '--pid', 'abc']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^ss: invalid --pid "abc": expected a process id\n$/);
  const negative = await runSs(['info', '--pid', '-7']);
  t.is(negative.code, 2);
  t.regex(negative.stderr, /^ss: invalid --pid "-7": expected a process id\n$/);
});

// Serial: one server at a time (each starts several processes, and the suite shares two cores).
for (const workers of ['1', '0']) {
  test.serial(`--workers ${workers}: an info tap returning a BigInt and a cycle: ss info answers with error notes, nothing crashes`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', workers, '--plugin', CHAOS, '--chaos', 'bad-info']);
    const info = await ssInfo(ss.pid);
    t.is(info.arbiter.pid, ss.pid);
    t.is(info.fine, 'arbiter');
    t.regex(info.big.error, /^not JSON: .*BigInt/);
    t.regex(info.loop.error, /^not JSON: .*circular/);
    t.is(info.workers.length, 1);
    if (workers === '1') { // a worker's taps add to its own entry
      const [w] = info.workers;
      t.is(w.fine, 'worker');
      t.regex(w.big.error, /^not JSON: .*BigInt/);
      t.regex(w.loop.error, /^not JSON: .*circular/);
    }
    t.is(await ask(ss.port, 'alive'), 'alive');
    t.true(isAlive(ss.pid));
    t.is((await ssInfo(ss.pid)).arbiter.pid, ss.pid, 'and answers again');
  });
}
