import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// --pidfile: written at start, removed at exit, never taken from a live process.

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
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '1', '--pidfile', pidfile]);
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
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '0', '--pidfile', pidfile]);
  t.is(readFileSync(pidfile, 'utf8'), `${ss.pid}\n`);
  const other = join(dir, 'other.pid');
  const clash = await runSs(['serve', '--plugin', 'echo', '--bind', `127.0.0.1:${ss.port}`, '--pidfile', other]);
  t.is(clash.code, 1);
  t.regex(clash.stderr, /address in use/);
  t.false(existsSync(other));
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(existsSync(pidfile));
});

test('--pidfile holding something other than a pid is replaced, and nothing is left beside it', async (t) => {
  const dir = tempDir(t, 'pidgarbage');
  const pidfile = join(dir, 'ss.pid');
  writeFileSync(pidfile, 'not a pid\n');
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '1', '--pidfile', pidfile], { cwd: dir });
  t.is(readFileSync(pidfile, 'utf8'), `${ss.pid}\n`);
  t.deepEqual(readdirSync(dir), ['ss.pid']);
  await ss.stop();
  t.deepEqual(readdirSync(dir), []);
});
