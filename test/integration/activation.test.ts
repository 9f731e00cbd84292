import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core/process';
import { ask } from '../helpers/client.js';
import { eventually, runSs, SS_BIN, SsProcess, ssInfo } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { BALANCES, PID_HANDLER, readyPids } from '../helpers/workers.js';

/**
 * What systemd does for a .socket unit, in python3: bind and listen each socket (`tcp`, or
 * `unix:PATH`), put them at fd 3, 4, ..., set LISTEN_FDS, LISTEN_PID (the pid after exec is the
 * same) and LISTEN_FDNAMES, and exec `ss`. It prints each TCP port (or unix path) on a line first,
 * so a test knows which sockets ss must serve. `pid` is `self` (as systemd), `other` (variables
 * meant for another process) or `none` (no variables: for --bind fd://N).
 */
const SYSTEMD = `
import os, socket, sys
specs, pid, names = sys.argv[1].split(','), sys.argv[2], sys.argv[3]
made = []
for spec in specs:
    if spec == 'tcp':
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        print(s.getsockname()[1], flush=True)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(spec[5:])
        print(spec[5:], flush=True)
    s.listen(64)
    made.append(s)
# Out of the way of 3, 4, ... first: a socket python made there itself is close-on-exec.
moved = [os.dup(s.fileno()) for s in made]
for s in made:
    s.close()
for i, fd in enumerate(moved):
    os.dup2(fd, 3 + i)
    os.close(fd)
env = {k: v for k, v in os.environ.items() if not k.startswith('SS_') and not k.startswith('LISTEN_')}
if pid != 'none':
    env.update(LISTEN_FDS=str(len(made)), LISTEN_PID=str(os.getpid()) if pid == 'self' else '1', LISTEN_FDNAMES=names)
os.execve(sys.argv[4], sys.argv[4:], env)
`;

interface Activated {
  ss: SsProcess;
  /** The TCP port or the unix path of each socket handed over (fd 3 first). */
  sockets: string[];
  /** The first one's. */
  socket: string;
}

/**
 * `ss serve ARGS` with sockets from fd 3 on, as systemd starts it; resolves once it serves. It
 * runs in `cwd`, a folder without a config (the repository's config has a bind of its own, which wins).
 * Stopped by its pid at `t`'s teardown.
 */
async function activated(t: ExecutionContext, cwd: string, args: readonly string[], opts: { sockets?: string[]; pid?: 'self' | 'other' | 'none'; names?: string } = {}): Promise<Activated> {
  const child = spawn('python3', ['-c', SYSTEMD, (opts.sockets ?? ['tcp']).join(','), opts.pid ?? 'self', opts.names ?? 'web', process.execPath, SS_BIN, 'serve', ...args],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const ss = new SsProcess(child);
  t.teardown(() => ss.stop());
  try {
    await ss.waitForLog((l) => l.msg.startsWith('serving '), 20_000);
  } catch (err) {
    await ss.stop('SIGKILL');
    throw err;
  }
  const sockets = ss.stdout.split('\n').filter((l) => l !== '');
  return { ss, sockets, socket: sockets[0]! };
}

/** The LISTEN_* variables in a process's environment. */
function listenVars(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => v.startsWith('LISTEN_'));
}

// Serial: each test starts up to three processes, and the machines that run the suite are small.
// 'auto' is a mode of its own only where it picks reuse-port.
const MODES: { workers: string; balance?: string }[] = [{ workers: '0' },
  ...[...BALANCES, ...(supportsReusePort() ? ['auto'] : [])].map((balance) => ({ workers: '2', balance }))];

for (const { workers, balance } of MODES) {
  const title = workers === '0' ? 'workers 0' : `workers 2, ${balance}`;
  test.serial(`${title}: a TCP socket from LISTEN_FDS is served, shown in logs and info, and the variables are gone`, async (t) => {
    const { ss, socket } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', workers, ...(balance ? ['--balance', balance] : [])]);
    const port = Number(socket);
    t.deepEqual(ss.addresses, [`127.0.0.1:${port}`]);
    t.true(ss.logs.some((l) => l.msg === `listening on 127.0.0.1:${port} (inherited fd://3 "web")`), ss.stderr);
    t.deepEqual((await ssInfo(ss.pid)).monitors[0].addresses, [`127.0.0.1:${port}`]);
    const served = new Set<number>();
    for (let i = 0; i < 8; i++) served.add(Number(await ask(port, 'pid')));
    const pids = workers === '0' ? [ss.pid] : readyPids(ss);
    t.true([...served].every((p) => pids.includes(p)), `answered by ${[...served].join(' ')}, serving ${pids.join(' ')}`);
    // sd_listen_fds(1): unset, so that workers (and what they start) do not take the socket for theirs.
    // (A process's own /proc environ keeps what it started with: the workers' show what they got.)
    for (const pid of readyPids(ss)) t.deepEqual(listenVars(pid), []);
    if (balance === 'reuse-port' || balance === 'auto') {
      t.true(ss.logs.some((l) => /an inherited socket cannot be bound again for each worker/.test(l.msg)), 'why it shares the socket is logged');
    }
    t.is((await ss.stop()).code, 0);
  });
}

test.serial('--bind fd://3 serves the descriptor without LISTEN_* variables', async (t) => {
  const { ss, socket } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '1', '--bind', 'fd://3'], { pid: 'none' });
  t.deepEqual(ss.addresses, [`127.0.0.1:${socket}`]);
  t.true(ss.logs.some((l) => l.msg === `listening on 127.0.0.1:${socket} (inherited fd://3)`), ss.stderr);
  t.is(await ask(Number(socket), 'hello'), 'hello');
  t.is((await ss.stop()).code, 0);
});

// With workers, the default balance shares a unix socket (reuse-port is TCP only); round-robin has the arbiter accept on it.
for (const { workers, balance } of [{ workers: '0' }, { workers: '2' }, { workers: '2', balance: 'round-robin' }]) {
  test.serial(`workers ${workers}${balance ? `, ${balance}` : ''}: a unix socket from LISTEN_FDS is served and its file is not removed at stop`, async (t) => {
    const dir = tempDir(t, 'activation');
    const path = join(dir, 'app.sock');
    const { ss } = await activated(t, dir, ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', workers, ...(balance ? ['--balance', balance] : [])],
      { sockets: [`unix:${path}`] });
    const inode = lstatSync(path).ino;
    t.deepEqual(ss.addresses, [`unix:${path}`]);
    t.deepEqual((await ssInfo(ss.pid)).monitors[0].addresses, [`unix:${path}`]);
    t.is(await ask(path, 'over unix'), 'over unix');
    const pids = workers === '0' ? [ss.pid] : readyPids(ss);
    // Round-robin hands connections to ready workers in turn: both answer (more tries allow for a worker late with its heartbeat).
    const want = balance === 'round-robin' ? 2 : 1;
    const served = new Set<number>();
    for (let i = 0; i < 40 && (i < 8 || served.size < want); i++) served.add(Number(await ask(path, 'pid')));
    t.true([...served].every((p) => pids.includes(p)), `answered by ${[...served].join(' ')}, serving ${pids.join(' ')}`);
    t.true(served.size >= want, `answered by ${served.size} process(es)`);
    t.is((await ss.stop()).code, 0);
    // The socket is systemd's: it is still there for the next start (or the next connection to activate).
    t.true(existsSync(path), 'the socket file is still there');
    t.is(lstatSync(path).ino, inode);
  });
}

test.serial('an inherited socket is listened on again with --backlog: with ss stopped, a connect soon fails with EAGAIN', async (t) => {
  const dir = tempDir(t, 'activation');
  const path = join(dir, 'app.sock');
  // systemd's socket listens with a backlog of 64 (see SYSTEMD); ss lowers it to 1.
  const { ss } = await activated(t, dir, ['--plugin', 'line', '--workers', '0', '--backlog', '1'], { sockets: [`unix:${path}`] });
  t.teardown(() => { try { process.kill(ss.pid, 'SIGCONT'); } catch { /* gone */ } });
  process.kill(ss.pid, 'SIGSTOP');
  const held: Socket[] = [];
  t.teardown(() => { for (const s of held) s.destroy(); });
  let code: string | undefined;
  for (let i = 0; i < 16 && code === undefined; i++) {
    code = await new Promise<string | undefined>((resolve) => {
      const s = connect({ path });
      s.once('connect', () => { held.push(s); resolve(undefined); });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
  }
  t.is(code, 'EAGAIN', `${held.length} connections queued`);
  process.kill(ss.pid, 'SIGCONT');
});

test.serial('LISTEN_PID naming another process: the variables are ignored (and removed), ss binds its own --bind', async (t) => {
  const { ss, socket } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '1', '--bind', '127.0.0.1:0'], { pid: 'other' });
  t.is(ss.addresses.length, 1);
  t.not(ss.port, Number(socket), 'not the inherited socket');
  t.is(await ask(ss.port, 'own'), 'own');
  for (const pid of readyPids(ss)) t.deepEqual(listenVars(pid), []);
});

test.serial('an explicit --bind wins over LISTEN_FDS', async (t) => {
  const { ss, socket } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '0', '--bind', '127.0.0.1:0']);
  t.not(ss.port, Number(socket));
  t.false(ss.logs.some((l) => /inherited/.test(l.msg)));
  t.true(ss.logs.some((l) => l.msg === 'LISTEN_FDS: fd://3 "web" passed by systemd and not served (a bind is set; fd://N serves one)'), ss.stderr);
});

test.serial('a bad fd:// is a usage error: exit 2, one line naming the setting', async (t) => {
  for (const bad of ['fd://x', 'fd://1']) {
    const r = await runSs(['serve', '--plugin', 'line', '--bind', bad], { timeoutMs: 8000 });
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`^ss: invalid --bind "${bad}": .*fd://N \\(an inherited socket, N >= 3\\)`));
  }
});

test.serial('fd:// naming no open socket cannot start: exit 1, one line', async (t) => {
  const r = await runSs(['serve', '--plugin', 'line', '--workers', '0', '--bind', 'fd://97'], { timeoutMs: 8000 });
  t.is(r.code, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').at(-1), 'ss: cannot listen on fd://97: not an open TCP or unix stream socket');
});

test.serial('HUP with an inherited socket: new workers serve the same socket, no "bind changed" warning', async (t) => {
  const { ss, socket } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', '1', '--balance', 'shared']);
  const before = Number(await ask(Number(socket), 'pid'));
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => /reloaded, every worker runs the new config/.test(l.msg), 20_000);
  // The old worker may take a connection before it reads its stop: new ones soon reach the new worker.
  await eventually(async () => (Number(await ask(Number(socket), 'pid')) !== before ? true : undefined), 'a new worker answering on the inherited socket', 10_000);
  t.false(ss.logs.some((l) => /bind changed/.test(l.msg)), ss.stderr);
});

test.serial('several servers: each takes the sockets LISTEN_FDNAMES names after it', async (t) => {
  const dir = tempDir(t, 'activation');
  writeFileSync(join(dir, 'socketserver.config.mjs'), `export default { servers: {
    a: { plugins: ['line'], workers: 1 },
    b: { plugins: ['echo'], workers: 1 },
  } };\n`);
  const { ss, sockets } = await activated(t, dir, [], { sockets: ['tcp', 'tcp'], names: 'b:a' });
  const [b, a] = sockets.map(Number);
  const byServer = Object.fromEntries((await ssInfo(ss.pid)).monitors.map((m: { name: string; addresses: string[] }) => [m.name, m.addresses]));
  t.deepEqual(byServer, { a: [`127.0.0.1:${a}`], b: [`127.0.0.1:${b}`] });
  t.is(await ask(a!, 'line'), 'line');
});

test.serial('--bind fd://4 with LISTEN_FDS: serves the socket named, warns about the one left', async (t) => {
  const { ss, sockets } = await activated(t, tempDir(t, 'activation'), ['--plugin', 'line', '--workers', '1', '--bind', 'fd://4'], { sockets: ['tcp', 'tcp'], names: 'one:two' });
  t.true(ss.logs.some((l) => l.msg === `listening on 127.0.0.1:${sockets[1]} (inherited fd://4 "two")`), ss.stderr);
  t.true(ss.logs.some((l) => l.msg === 'LISTEN_FDS: fd://3 "one" passed by systemd and not served (a bind is set; fd://N serves one)'), ss.stderr);
  t.is(await ask(Number(sockets[1]), 'two'), 'two');
});
