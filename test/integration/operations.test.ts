import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlPath } from '@socketserver/core/process';
import { ask } from '../helpers/client.js';
import { launchSs, processTitle, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

/** A pid no process has now: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('--pidfile: written with the arbiter pid at start, removed at exit; a stale one is replaced', async (t) => {
  const dir = tempDir(t, 'pidfile');
  const pidfile = join(dir, 'ss.pid');
  const stale = deadPid();
  writeFileSync(pidfile, `${stale}\n`);
  const ss = await startSs(['--plugin', 'echo', '--workers', '1', '--pidfile', pidfile]);
  t.teardown(() => ss.stop());
  t.is(readFileSync(pidfile, 'utf8'), `${ss.pid}\n`);
  // ss info finds the server through the same pidfile.
  const info = await runSs(['info', '--json', '--pidfile', pidfile]);
  t.is(info.code, 0, info.stderr);
  t.is(JSON.parse(info.stdout).arbiter.pid, ss.pid);
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(existsSync(pidfile));
});

test('--pidfile naming a live process: exit 1 naming the file and the pid, the file untouched', async (t) => {
  const dir = tempDir(t, 'pidfile-live');
  const pidfile = join(dir, 'ss.pid');
  writeFileSync(pidfile, `${process.pid}\n`); // this test runner is alive
  const r = await runSs(['serve', '--plugin', 'echo', '--bind', '127.0.0.1:0', '--pidfile', pidfile]);
  t.is(r.code, 1);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`^ss: pidfile ${pidfile}: already running as pid ${process.pid}`));
  t.is(readFileSync(pidfile, 'utf8'), `${process.pid}\n`);
});

test('--pidfile with workers 0, and an address in use: the pidfile is not left behind', async (t) => {
  const dir = tempDir(t, 'pidfile-0');
  const pidfile = join(dir, 'ss.pid');
  const ss = await startSs(['--plugin', 'echo', '--workers', '0', '--pidfile', pidfile]);
  t.teardown(() => ss.stop());
  t.is(readFileSync(pidfile, 'utf8'), `${ss.pid}\n`);
  const other = join(dir, 'other.pid');
  const clash = await runSs(['serve', '--plugin', 'echo', '--bind', `127.0.0.1:${ss.port}`, '--pidfile', other]);
  t.is(clash.code, 1);
  t.regex(clash.stderr, /address in use/);
  t.false(existsSync(other));
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(existsSync(pidfile));
});

test('two servers from one config: two ports, two protocols, each with its own workers, in one arbiter', async (t) => {
  const dir = tempDir(t, 'servers');
  writeFileSync(join(dir, 'socketserver.config.mjs'), `export default {
  log_level: 'info',
  servers: {
    lines: { plugins: ['line'], bind: '127.0.0.1:0', workers: 2 },
    frames: { plugins: [['netstring', { maxNetstring: '1kb' }]], bind: '127.0.0.1:0', workers: 1 },
  },
};
`);
  const ss = launchSs(['serve'], { cwd: dir });
  t.teardown(() => ss.stop());
  await ss.waitForLog((l) => l.msg.startsWith('serving lines'), 20_000);
  await ss.waitForLog((l) => l.msg.startsWith('serving frames'), 20_000);
  const port = (name: string) => Number((ss.logs.find((l) => l.name === name && l.msg.startsWith('listening on'))!.address as string).split(':')[1]);
  t.is(await ask(port('lines'), 'hello'), 'hello');
  const { Client } = await import('../helpers/client.js');
  const c = await Client.open(port('frames'));
  c.send('5:hello,');
  await c.until(() => c.received.toString() === '5:hello,', 'the netstring echo');
  c.destroy();

  const info = await ssInfo(ss.pid, { cwd: dir });
  t.deepEqual(info.monitors.map((m: { name: string; workers: unknown }) => [m.name, m.workers]),
    [['lines', { wanted: 2, alive: 2 }], ['frames', { wanted: 1, alive: 1 }]]);
  t.is(processTitle(ss.pid), 'ss arbiter [lines, frames]');
  const titles = info.workers.map((w: { pid: number }) => processTitle(w.pid)).sort();
  t.deepEqual(titles, ['ss worker 1 [frames]', 'ss worker 1 [lines]', 'ss worker 2 [lines]']);
  t.is((await ss.stop('SIGTERM')).code, 0);
});

test('servers in a config: --bind for all of them is refused, exit 2', async (t) => {
  const dir = tempDir(t, 'servers-bind');
  writeFileSync(join(dir, 'socketserver.config.mjs'),
    `export default { servers: { a: { plugins: ['echo'] }, b: { plugins: ['line'], bind: ':9' } } };\n`);
  const r = await runSs(['serve', '--bind', '127.0.0.1:0'], { cwd: dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /^ss: --bind: the config .* declares servers a, b; set bind in each server's entry\n$/);
});

test('ss info: the document of §9 with what an info hook plugin added in each worker and in the arbiter', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '2', '--plugin', join(FIXTURES, 'runtime', 'info-tap.mjs')]);
  t.teardown(() => ss.stop());
  t.is(await ask(ss.port, 'one'), 'one');
  const info = await ssInfo(ss.pid);
  t.is(info.arbiter.pid, ss.pid);
  t.is(info.arbiter.state, 'running');
  t.regex(info.arbiter.version, /^\d+\.\d+\.\d+/);
  t.true(info.arbiter.uptime >= 0);
  t.deepEqual(info.arbiterTap, { pid: ss.pid }, 'the arbiter\'s tap');
  t.deepEqual(info.monitors, [{
    name: 'line', addresses: [`127.0.0.1:${ss.port}`], workers: { wanted: 2, alive: 2 },
    restarts: { crash: 0, timeout: 0, max_requests: 0, reload: 0 },
  }]);
  t.is(info.workers.length, 2);
  for (const w of info.workers) {
    t.is(w.tapped, `worker ${w.id} pid ${w.pid}`, 'each worker\'s own tap');
    t.is(w.server, 'line');
    t.is(w.state, 'running');
    t.true(w.memory > 1e6);
    t.is(typeof w.uptime, 'number');
    t.is(w.stats.requests, w.requests);
    t.is(w.stats.connections.accepted, w.connections.received);
  }
  const served = info.workers.find((w: { requests: number }) => w.requests === 1);
  t.deepEqual(served.stats.connections.closed, { clean: 1, idle: 0, bad_input: 0, handler_error: 0, reset: 0, shutdown: 0, refused: 0 });
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

test('ss info: the channel is a unix socket only its owner can open; no server to ask is exit 1', async (t) => {
  const ss = await startSs(['--plugin', 'echo', '--workers', '1']);
  t.teardown(() => ss.stop());
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
