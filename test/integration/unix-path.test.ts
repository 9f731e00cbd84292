import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { ask } from '../helpers/client.js';
import { eventually, isAlive, launchSs, runSs, startSs, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { BALANCES, PID_HANDLER, readyPids } from '../helpers/workers.js';

interface UnixEntry { readonly listening: boolean; readonly path: string }

/** The unix sockets bound under `dir`, as the kernel lists them (what `ss -x` and lsof read). */
function kernelSockets(dir: string): UnixEntry[] {
  // Num RefCount Protocol Flags Type St Inode Path: a listening socket has __SO_ACCEPTCON (00010000).
  return readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/);
    const path = f.slice(7).join(' ');
    return path.startsWith(`${dir}/`) ? [{ listening: f[3] === '00010000', path }] : [];
  });
}

/** The socket is listed under its configured path, and nothing under `dir` is listed under another name. */
function assertListedAs(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, dir: string, sock: string): void {
  const entries = kernelSockets(dir);
  t.deepEqual(entries.filter((e) => e.listening).map((e) => e.path), [sock], 'one listening socket, at its configured path');
  t.deepEqual([...new Set(entries.map((e) => e.path))], [sock], 'no other name (a temporary one) in /proc/net/unix');
}

/** A socket file left at `path` by a server killed with SIGKILL (its file stays). */
async function staleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(process.argv[1], () => console.log('ready'))`, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`listener exited early (${code})`)));
  });
  child.kill('SIGKILL');
  await exited;
}

/** A pid no process has now (one that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

for (const balance of BALANCES) {
  test.serial(`${balance}: the socket is listed at its configured path, served by the workers, kept by HUP, removed on stop`, async (t) => {
    const dir = tempDir(t, 'unixpath');
    const sock = join(dir, 'app.sock');
    const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', balance, '--handler', PID_HANDLER, '--bind', `unix:${sock}`]);
    t.deepEqual(ss.addresses, [`unix:${sock}`]);
    assertListedAs(t, dir, sock);
    const inode = lstatSync(sock).ino;
    const workers = readyPids(ss);
    t.true(workers.includes(Number(await ask(sock, 'pid'))), 'a worker answers');

    process.kill(ss.pid, 'SIGHUP');
    await ss.waitForLog((l) => l.msg.includes('every worker runs the new config'), 30_000);
    const after = readyPids(ss).filter((p) => !workers.includes(p));
    t.true(after.includes(Number(await ask(sock, 'pid'))), 'a new worker answers on the same path');
    t.is(lstatSync(sock).ino, inode, 'the same socket file');
    assertListedAs(t, dir, sock);

    t.is((await ss.stop('SIGTERM')).code, 0);
    t.deepEqual(readdirSync(dir), [], 'the socket file is removed on stop, and no lock file is left');
  });
}

test.serial('--workers 0: the socket is listed at its configured path and removed on stop', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 'app.sock');
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '0', '--bind', `unix:${sock}`]);
  assertListedAs(t, dir, sock);
  t.is(await ask(sock, 'single'), 'single');
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.deepEqual(readdirSync(dir), []);
});

test.serial('a socket file left by a SIGKILLed ss is replaced by the next one, listed at its path', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 'app.sock');
  const first = await startSs(t, ['--plugin', 'line', '--workers', '2', '--bind', `unix:${sock}`]);
  const workers = readyPids(first);
  await first.stop('SIGKILL');
  // Its workers leave once they see the arbiter gone; until then the socket is still live.
  await eventually(() => (workers.every((p) => !isAlive(p)) ? true : undefined), 'the workers gone', 15_000);
  t.true(lstatSync(sock).isSocket(), 'the socket file is left behind');
  const second = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', PID_HANDLER, '--bind', `unix:${sock}`]);
  t.true(readyPids(second).includes(Number(await ask(sock, 'pid'))));
  assertListedAs(t, dir, sock);
});

/** Wait until `ss` serves (true) or exits (false). */
function outcome(ss: SsProcess): Promise<boolean> {
  return Promise.race([ss.waitForLog((l) => l.msg.startsWith('serving '), 30_000).then(() => true, () => false), ss.exited.then(() => false)]);
}

test.serial('two ss started at once on a stale socket file: exactly one serves, the other exits 1, address in use', async (t) => {
  // Each round gives the two starts a chance to interleave between finding the stale file and binding.
  for (let round = 0; round < 3; round++) {
    const dir = tempDir(t, 'unixpath');
    const sock = join(dir, 'app.sock');
    await staleSocket(sock);
    const both = [0, 1].map(() => launchSs(t, ['serve', '--plugin', 'line', '--workers', '0', '--handler', PID_HANDLER, '--bind', `unix:${sock}`]));
    const served = await Promise.all(both.map(outcome));
    t.is(served.filter(Boolean).length, 1, `round ${round}: exactly one serves; stderr:\n${both.map((s) => s.stderr).join('\n')}`);
    const winner = both[served.indexOf(true)]!;
    const loser = both[served.indexOf(false)]!;
    const exit = await loser.exited;
    t.is(exit.code, 1, loser.stderr);
    t.is(loser.stderr.trim().split('\n').at(-1), `ss: cannot bind unix:${sock}: address in use`);
    t.is(Number(await ask(sock, 'pid')), winner.pid, 'the path reaches the one serving');
    assertListedAs(t, dir, sock);
    t.is((await winner.stop('SIGTERM')).code, 0);
    t.deepEqual(readdirSync(dir), []);
  }
});

test.serial('a lock file held by a live process is waited for: ss binds once it is released', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 'app.sock');
  writeFileSync(`${sock}.lock`, `${process.pid}\n`); // this test process: alive
  const ss = launchSs(t, ['serve', '--plugin', 'line', '--bind', `unix:${sock}`]);
  await sleep(1500);
  t.false(existsSync(sock), 'nothing bound while the lock is held');
  t.is(ss.child.exitCode, null, 'still waiting');
  unlinkSync(`${sock}.lock`);
  await ss.waitForLog((l) => l.msg.startsWith('serving '), 20_000);
  t.is(await ask(sock, 'after the lock'), 'after the lock');
  assertListedAs(t, dir, sock);
});

test.serial('a lock file held by a live process for over 5 s: exit 1, one line naming the lock and its pid', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 'app.sock');
  writeFileSync(`${sock}.lock`, `${process.pid}\n`);
  const r = await runSs(['serve', '--plugin', 'line', '--bind', `unix:${sock}`], { timeoutMs: 30_000 });
  t.is(r.code, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').at(-1),
    `ss: cannot bind unix:${sock}: the lock ${sock}.lock is held by pid ${process.pid} for over 5 s (remove it if that process is not ss)`);
  t.false(existsSync(sock));
  t.is(readFileSync(`${sock}.lock`, 'utf8'), `${process.pid}\n`, 'another\'s lock is left alone');
});

test.serial('a stale lock file (its pid dead, as after a SIGKILL while binding) is replaced, and removed once bound', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 'app.sock');
  await staleSocket(sock);
  writeFileSync(`${sock}.lock`, `${deadPid()} 1\n`);
  const ss = await startSs(t, ['--plugin', 'line', '--bind', `unix:${sock}`]);
  t.is(await ask(sock, 'stale lock'), 'stale lock');
  t.deepEqual(readdirSync(dir), ['app.sock'], 'no lock file left');
  assertListedAs(t, dir, sock);
  t.is((await ss.stop('SIGTERM')).code, 0);
});

test.serial('a unix socket path over 108 bytes: exit 2, one line naming the setting, nothing bound', async (t) => {
  const dir = tempDir(t, 'unixpath');
  const sock = join(dir, 's'.repeat(109 - dir.length - 1));
  const r = await runSs(['serve', '--plugin', 'line', '--bind', `unix:${sock}`]);
  assertOneLineError(t, r, 2, ['--bind', sock, '109 bytes', 'at most 108']);
  t.deepEqual(readdirSync(dir), []);
});
