import test from 'ava';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core';
import { ask } from '../helpers/client.js';
import { eventually, runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

const BALANCES = ['auto', 'round-robin', ...(supportsReusePort() ? ['reuse-port'] : [])];
for (const balance of BALANCES) {
  test(`${balance}: a second ss on the port a first one serves exits 1, address in use`, async (t) => {
    const first = await startSs(['--plugin', 'line', '--workers', '2', '--balance', balance]);
    t.teardown(() => first.stop());
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

test('a live unix socket with a full backlog is not taken for stale: the second ss exits 1, address in use', async (t) => {
  const sock = join(tempDir(t, 'balance'), 's.sock');
  const first = await startSs(['--plugin', 'line', '--workers', '0', '--backlog', '1', '--bind', `unix:${sock}`]);
  t.teardown(() => { process.kill(first.pid, 'SIGCONT'); return first.stop(); });
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
  const second = await runSs(['serve', '--plugin', 'line', '--bind', `unix:${sock}`], { timeoutMs: 8000 });
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
    const first = await startSs(['--plugin', 'line', '--workers', workers, '--bind', `unix:${sock}`]);
    t.teardown(() => first.stop());
    unlinkSync(sock); // say, by hand, to start another server there
    const second = await startSs(['--plugin', 'line', '--workers', workers, '--bind', `unix:${sock}`]);
    t.teardown(() => second.stop());
    t.is((await first.stop('SIGTERM')).code, 0);
    t.true(existsSync(sock), 'the second server\'s socket file is still there');
    t.is(await ask(sock, 'second'), 'second');
    t.is((await second.stop('SIGTERM')).code, 0);
    t.false(existsSync(sock), 'a server removes its own socket file when it stops');
  });
}
