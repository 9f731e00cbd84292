import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { ask, Client } from '../helpers/client.js';
import { eventually, launchSs, runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { BALANCES } from '../helpers/workers.js';

/** A port nobody listens on right now (bound to 0, then closed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const balance of ['auto', ...BALANCES]) {
  test(`${balance}: a second ss on the port a first one serves exits 1, address in use`, async (t) => {
    const first = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', balance]);
    const bind = `127.0.0.1:${first.port}`;
    const second = await runSs(['serve', '--plugin', 'line', '--balance', balance, '--bind', bind], { timeoutMs: 8000 });
    t.is(second.code, 1, second.stderr);
    t.is(second.stderr.trim().split('\n').at(-1), `ss: cannot bind ${bind}: address in use`);
  });
}

/** Connect to a unix socket; the error code if it fails. */
function tryConnect(path: string): Promise<{ socket?: Socket; code?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => resolve({ socket }));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code }));
  });
}

/** Send `line` and read the first line back (the socket is then closed); a close or 20 s without one says so. */
function answerTo(socket: Socket, line: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => { got += d; if (got.includes('\n')) { socket.destroy(); resolve(got.trim()); } });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed, received ${JSON.stringify(got)}`)));
    setTimeout(() => { socket.destroy(); resolve(`no answer in 20 s, received ${JSON.stringify(got)}`); }, 20_000).unref();
    socket.write(`${line}\n`);
  });
}

test('a live unix socket with a full backlog is not taken for stale: the second ss exits 1, address in use', async (t) => {
  const sock = join(tempDir(t, 'balance'), 's.sock');
  const first = await startSs(t, ['--plugin', 'line', '--workers', '0', '--backlog', '1', '--bind', `unix:${sock}`]);
  t.teardown(() => { try { process.kill(first.pid, 'SIGCONT'); } catch { /* gone */ } });
  const inode = lstatSync(sock).ino;
  process.kill(first.pid, 'SIGSTOP');
  // Fill its accept queue: it accepts nothing while stopped, so a connect soon fails with EAGAIN.
  const held: Socket[] = [];
  t.teardown(() => { for (const s of held) s.destroy(); });
  let code: string | undefined;
  for (let i = 0; i < 64 && code === undefined; i++) {
    const r = await tryConnect(sock);
    if (r.socket) held.push(r.socket);
    code = r.code;
  }
  t.is(code, 'EAGAIN');
  const second = await runSs(['serve', '--plugin', 'line', '--bind', `unix:${sock}`], { timeoutMs: 20_000 });
  t.is(second.code, 1, second.stderr);
  t.is(second.stderr.trim().split('\n').at(-1), `ss: cannot bind unix:${sock}: address in use`);
  t.is(lstatSync(sock).ino, inode, 'the live socket file is still there');
  process.kill(first.pid, 'SIGCONT');
  for (const h of held) h.destroy();
  t.is(await eventually(() => ask(sock, 'alive'), 'an answer once it runs again'), 'alive');
});

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: a stop leaves alone a socket file another server has bound since at the same path`, async (t) => {
    const sock = join(tempDir(t, 'balance'), 's.sock');
    const first = await startSs(t, ['--plugin', 'line', '--workers', workers, '--bind', `unix:${sock}`]);
    unlinkSync(sock); // say, by hand, to start another server there
    const second = await startSs(t, ['--plugin', 'line', '--workers', workers, '--bind', `unix:${sock}`]);
    t.is((await first.stop('SIGTERM')).code, 0);
    t.true(existsSync(sock), 'the second server\'s socket file is still there');
    t.is(await ask(sock, 'second'), 'second');
    t.is((await second.stop('SIGTERM')).code, 0);
    t.false(existsSync(sock), 'a server removes its own socket file when it stops');
  });
}

test('a client connecting while the arbiter is still binding its other addresses is served once a worker is ready', async (t) => {
  const dir = tempDir(t, 'balance');
  const port = await freePort();
  // Many unix addresses after the TCP one: the arbiter accepts on the TCP port while binding them.
  const binds = [`127.0.0.1:${port}`, ...Array.from({ length: 40 }, (_, i) => `unix:${join(dir, `s${i}.sock`)}`)];
  const ss = launchSs(t, ['serve', '--plugin', 'line', '--balance', 'round-robin', ...binds.flatMap((b) => ['--bind', b])]);
  // Connect loops hammer the port until one connection gets in (bounded in count and time).
  const answers: Promise<string>[] = [];
  const until = Date.now() + 10_000;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 100_000 && answers.length === 0 && Date.now() < until && ss.child.exitCode === null; i++) {
      const r = await new Promise<Socket | undefined>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (!r) continue;
      answers.push(answerTo(r, 'early'));
    }
  }));
  t.true(answers.length > 0, 'a connection got in');
  t.deepEqual(await Promise.all(answers), answers.map(() => 'early'));
  await ss.waitForLog((l) => l.msg.startsWith('serving '));
  t.true(ss.addresses.length === binds.length);
});

for (const workers of ['0', '1']) {
  test(`--workers ${workers}: connections made to a unix socket the moment it accepts are served, none left unrouted`, async (t) => {
    const path = join(tempDir(t, 'first'), 'f.sock');
    const ss = launchSs(t, ['serve', '--plugin', 'line', '--workers', workers, '--bind', `unix:${path}`]);
    // Connect loops hammer the path from before it exists until 20 connections got in (bounded in count and time).
    const answers: Promise<string>[] = [];
    const until = Date.now() + 15_000;
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 100_000 && answers.length < 20 && Date.now() < until && ss.child.exitCode === null; i++) {
        const { socket } = await tryConnect(path);
        if (!socket) continue;
        answers.push(answerTo(socket, 'early'));
      }
    }));
    t.true(answers.length >= 20, `${answers.length} connections got in`);
    t.deepEqual(await Promise.all(answers), answers.map(() => 'early'));
  });
}

test('a unix socket path of 108 bytes, the longest Linux has, is bound and reachable with workers', async (t) => {
  const base = tempDir(t, 'balance');
  const dir = join(base, 'd'.repeat(100 - base.length - 1));
  mkdirSync(dir);
  const sock = join(dir, 's'.repeat(108 - dir.length - 1));
  t.is(Buffer.byteLength(sock), 108);
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--bind', `unix:${sock}`]);
  t.is(await ask(sock, 'long'), 'long');
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(existsSync(sock));
});

test('several binds at once: two TCP ports and a unix socket, port 0 logged as the real port', async (t) => {
  const path = join(tempDir(t, 'binds'), 's.sock');
  const ss = await startSs(t, ['--plugin', 'line', '-b', '127.0.0.1:0', '--bind', '127.0.0.2:0', '--bind', `unix:${path}`]);
  t.is(ss.addresses.length, 3);
  t.regex(ss.addresses[0]!, /^127\.0\.0\.1:[1-9]\d*$/);
  t.regex(ss.addresses[1]!, /^127\.0\.0\.2:[1-9]\d*$/);
  t.is(ss.addresses[2], `unix:${path}`);
  const port2 = Number(ss.addresses[1]!.split(':')[1]);
  const clients = await Promise.all([Client.open(ss.port), Client.open({ host: '127.0.0.2', port: port2 }), Client.open(path)]);
  clients.forEach((c, i) => c.send(`via ${i}\n`));
  t.deepEqual(await Promise.all(clients.map(async (c) => (await c.lines(1))[0])), ['via 0', 'via 1', 'via 2']);
  clients.forEach((c) => c.destroy());
});

test('":PORT" listens on all interfaces (reached here over loopback)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', '--bind', ':0']);
  t.regex(ss.addresses[0]!, /^:[1-9]\d*$/);
  const c = await Client.open(ss.port);
  c.send('any');
  t.is(String(await c.read(3)), 'any');
  c.destroy();
});

test('"[::1]:PORT" listens on the IPv6 loopback', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', '--bind', '[::1]:0']);
  t.regex(ss.addresses[0]!, /^\[::1\]:[1-9]\d*$/);
  const c = await Client.open({ host: '::1', port: ss.port });
  c.send('six');
  t.is(String(await c.read(3)), 'six');
  c.destroy();
});

const IS_ROOT = process.getuid?.() === 0;

test('a stale unix socket that cannot be removed: exit 1, one line naming it', async (t) => {
  const cwd = tempDir(t, 'unlink');
  const dir = join(cwd, 'locked');
  mkdirSync(dir);
  // A socket file with no listener, as a server that crashed leaves it (exiting without close keeps the file).
  const leftover = join(dir, 'left.sock');
  const made = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(leftover)}, () => process.exit(0))`]);
  t.is(made.status, 0);
  // Its folder refuses removals: read-only for a user; immutable for root, whom modes do not stop.
  if (IS_ROOT) {
    const set = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
    t.is(set.status, 0, `chattr +i: ${set.stderr}`);
    t.teardown(() => { spawnSync('chattr', ['-i', dir]); });
  } else {
    chmodSync(dir, 0o555);
  }
  const r = await runSs(['serve', '--plugin', 'echo', '--workers', '0', '--bind', `unix:${leftover}`], { cwd });
  assertOneLineError(t, r, 1, [leftover, IS_ROOT ? 'EPERM' : 'EACCES']);
});

test('--bind PORT (a bare number) listens on that port on 127.0.0.1', async (t) => {
  const port = await freePort();
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '0', '--bind', String(port)]);
  t.deepEqual(ss.addresses, [`127.0.0.1:${port}`]);
  t.is(await ask(port, 'hello'), 'hello');
});
