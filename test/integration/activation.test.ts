import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core/process';
import { ask } from '../helpers/client.js';
import { REPO, runSs, SS_BIN, SsProcess, ssInfo } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

const PID_HANDLER = join(REPO, 'test/fixtures/runtime/pid-handler.mjs');

/**
 * What systemd does for a .socket unit, in python3: bind and listen, put the socket at fd 3, set
 * LISTEN_FDS, LISTEN_PID (the pid after exec is the same) and LISTEN_FDNAMES, and exec `ss`.
 * It prints the TCP port (or the unix path) first, so a test knows which socket ss must serve.
 * `pid` is `self` (as systemd), `other` (variables meant for another process) or `none` (no variables: fd://3 only).
 */
const SYSTEMD = `
import os, socket, sys
kind, where, pid, names = sys.argv[1:5]
if kind == 'tcp':
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    print(s.getsockname()[1], flush=True)
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(where)
    print(where, flush=True)
s.listen(64)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # a socket python made at fd 3 itself is close-on-exec
env = {k: v for k, v in os.environ.items() if not k.startswith('SS_') and not k.startswith('LISTEN_')}
if pid != 'none':
    env.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()) if pid == 'self' else '1', LISTEN_FDNAMES=names)
os.execve(sys.argv[5], sys.argv[5:], env)
`;

interface Activated {
  ss: SsProcess;
  /** The TCP port or the unix path of the socket handed over. */
  socket: string;
}

/**
 * `ss serve ARGS` with a socket at fd 3, as systemd starts it; resolves once it serves. It runs in
 * `cwd`, a folder without a config (the repository's config has a bind of its own, which wins).
 */
async function activated(cwd: string, args: readonly string[], opts: { kind?: 'tcp' | 'unix'; path?: string; pid?: 'self' | 'other' | 'none'; names?: string } = {}): Promise<Activated> {
  const child = spawn('python3', ['-c', SYSTEMD, opts.kind ?? 'tcp', opts.path ?? '', opts.pid ?? 'self', opts.names ?? 'web', process.execPath, SS_BIN, 'serve', ...args],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const ss = new SsProcess(child);
  try {
    await ss.waitForLog((l) => l.msg.startsWith('serving '), 20_000);
  } catch (err) {
    await ss.stop('SIGKILL');
    throw err;
  }
  return { ss, socket: ss.stdout.split('\n')[0]! };
}

/** Worker pids from the arbiter's log. */
function workerPids(ss: SsProcess): number[] {
  return ss.logs.filter((l) => /^worker \d+ ready/.test(l.msg)).map((l) => l.workerPid as number);
}

/** The LISTEN_* variables in a process's environment. */
function listenVars(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => v.startsWith('LISTEN_'));
}

const BALANCES = ['shared', 'round-robin', ...(supportsReusePort() ? ['reuse-port', 'auto'] : [])];
const MODES: { workers: string; balance?: string }[] = [{ workers: '0' }, ...BALANCES.map((balance) => ({ workers: '2', balance }))];

for (const { workers, balance } of MODES) {
  const title = workers === '0' ? 'workers 0' : `workers 2, ${balance}`;
  test(`${title}: a TCP socket from LISTEN_FDS is served, shown in logs and info, and the variables are gone`, async (t) => {
    const { ss, socket } = await activated(tempDir(t, 'activation'), ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', workers, ...(balance ? ['--balance', balance] : [])]);
    t.teardown(() => ss.stop());
    const port = Number(socket);
    t.deepEqual(ss.addresses, [`127.0.0.1:${port}`]);
    t.true(ss.logs.some((l) => l.msg === `listening on 127.0.0.1:${port} (inherited fd://3 "web")`), ss.stderr);
    t.deepEqual((await ssInfo(ss.pid)).monitors[0].addresses, [`127.0.0.1:${port}`]);
    const served = new Set<number>();
    for (let i = 0; i < 8; i++) served.add(Number(await ask(port, 'pid')));
    const pids = workers === '0' ? [ss.pid] : workerPids(ss);
    t.true([...served].every((p) => pids.includes(p)), `answered by ${[...served].join(' ')}, serving ${pids.join(' ')}`);
    // sd_listen_fds(1): unset, so that workers (and what they start) do not take the socket for theirs.
    // (A process's own /proc environ keeps what it started with: the workers' show what they got.)
    for (const pid of workerPids(ss)) t.deepEqual(listenVars(pid), []);
    if (balance === 'reuse-port' || balance === 'auto') {
      t.true(ss.logs.some((l) => /an inherited socket cannot be bound again for each worker/.test(l.msg)), 'why it shares the socket is logged');
    }
    t.is((await ss.stop()).code, 0);
  });
}

test('--bind fd://3 serves the descriptor without LISTEN_* variables', async (t) => {
  const { ss, socket } = await activated(tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '1', '--bind', 'fd://3'], { pid: 'none' });
  t.teardown(() => ss.stop());
  t.deepEqual(ss.addresses, [`127.0.0.1:${socket}`]);
  t.true(ss.logs.some((l) => l.msg === `listening on 127.0.0.1:${socket} (inherited fd://3)`), ss.stderr);
  t.is(await ask(Number(socket), 'hello'), 'hello');
  t.is((await ss.stop()).code, 0);
});

for (const workers of ['0', '2']) {
  test(`workers ${workers}: a unix socket from LISTEN_FDS is served and its file is not removed at stop`, async (t) => {
    const dir = tempDir(t, 'activation');
    const path = join(dir, 'app.sock');
    const { ss } = await activated(dir, ['--plugin', 'line', '--workers', workers], { kind: 'unix', path });
    t.teardown(() => ss.stop());
    const inode = lstatSync(path).ino;
    t.deepEqual(ss.addresses, [`unix:${path}`]);
    t.deepEqual((await ssInfo(ss.pid)).monitors[0].addresses, [`unix:${path}`]);
    t.is(await ask(path, 'over unix'), 'over unix');
    t.is((await ss.stop()).code, 0);
    // The socket is systemd's: it is still there for the next start (or the next connection to activate).
    t.true(existsSync(path), 'the socket file is still there');
    t.is(lstatSync(path).ino, inode);
  });
}

test('LISTEN_PID naming another process: the variables are ignored (and removed), ss binds its own --bind', async (t) => {
  const { ss, socket } = await activated(tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '1', '--bind', '127.0.0.1:0'], { pid: 'other' });
  t.teardown(() => ss.stop());
  t.is(ss.addresses.length, 1);
  t.not(ss.port, Number(socket), 'not the inherited socket');
  t.is(await ask(ss.port, 'own'), 'own');
  for (const pid of workerPids(ss)) t.deepEqual(listenVars(pid), []);
});

test('an explicit --bind wins over LISTEN_FDS', async (t) => {
  const { ss, socket } = await activated(tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '0', '--bind', '127.0.0.1:0']);
  t.teardown(() => ss.stop());
  t.not(ss.port, Number(socket));
  t.false(ss.logs.some((l) => /inherited/.test(l.msg)));
});

test('a bad fd:// is a usage error: exit 2, one line naming the setting', async (t) => {
  for (const bad of ['fd://x', 'fd://1']) {
    const r = await runSs(['serve', '--plugin', 'line', '--bind', bad], { timeoutMs: 8000 });
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`^ss: invalid --bind "${bad}": .*fd://N \\(an inherited socket, N >= 3\\)`));
  }
});

test('fd:// naming no open socket cannot start: exit 1, one line', async (t) => {
  const r = await runSs(['serve', '--plugin', 'line', '--workers', '0', '--bind', 'fd://97'], { timeoutMs: 8000 });
  t.is(r.code, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').at(-1), 'ss: cannot listen on fd://97: not an open TCP or unix stream socket');
});
