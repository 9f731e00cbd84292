import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask, Client } from '../helpers/client.js';
import { eventually, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

const CHAOS = join(FIXTURES, 'runtime', 'chaos.mjs');

/** The default format's fields, by name. */
interface Line {
  time: string; peer: string; worker: string; conn: string; seq: string;
  requests: string; bytesIn: string; bytesOut: string; duration: string; reason: string;
}
const DEFAULT_LINE = /^(\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]) (\S+) (\d+) (\d+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$/;

function parse(text: string): Line[] {
  return text.split('\n').filter((l) => l !== '').map((l) => {
    const m = DEFAULT_LINE.exec(l);
    if (!m) throw new Error(`not an access line: ${JSON.stringify(l)}`);
    const [, time, peer, worker, conn, seq, requests, bytesIn, bytesOut, duration, reason] = m as unknown as string[];
    return { time, peer, worker, conn, seq, requests, bytesIn, bytesOut, duration, reason } as Line;
  });
}

const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** Connection lines (seq `-`) of the client on `port`, once there are `n` (writes are buffered and async). */
function connLines(text: () => string, port: number, n = 1, timeoutMs = 15_000): Promise<Line[]> {
  return eventually(() => {
    const found = parse(text()).filter((l) => l.peer === `127.0.0.1:${port}` && l.seq === '-');
    return found.length >= n ? found : undefined;
  }, `${n} access line(s) of port ${port}`, timeoutMs);
}

/** A client that sends `data`, reads `replyBytes`, and closes; its local port. */
async function exchange(port: number, data: string, replyBytes: number): Promise<number> {
  const c = await Client.open(port);
  c.send(data);
  await c.read(replyBytes, 10_000);
  c.end();
  await c.waitClose(10_000);
  return c.localPort!;
}

for (const workers of ['2', '0']) {
  test(`workers ${workers}: a file line per connection with peer, counts, exact bytes and why it closed (clean, idle, bad_input)`, async (t) => {
    const dir = tempDir(t, 'access-file');
    const file = join(dir, 'access.log');
    const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', workers, '--access-log', 'access.log',
      '--keep-alive', '1', '--max-line', '4'], { cwd: dir });

    const clean = await exchange(ss.port, 'hi\nyo\nabc\n', 10);
    const idle = await Client.open(ss.port);
    idle.send('ab\n');
    await idle.read(3, 10_000);
    await idle.waitClose(15_000); // keep_alive 1: the server closes it
    const bad = await Client.open(ss.port);
    bad.send('toolong\n');
    await bad.waitClose(10_000);

    const [c] = await connLines(() => read(file), clean);
    t.like(c, { requests: '3', bytesIn: '10', bytesOut: '10', reason: 'clean' });
    t.regex(c!.duration, /^\d+$/);
    t.true(workers === '0' ? c!.worker === '0' : ['1', '2'].includes(c!.worker), c!.worker);
    const [i] = await connLines(() => read(file), idle.localPort!);
    t.like(i, { requests: '1', bytesIn: '3', bytesOut: '3', reason: 'idle' });
    t.true(Number(i!.duration) >= 900, i!.duration);
    const [b] = await connLines(() => read(file), bad.localPort!);
    t.like(b, { requests: '0', bytesIn: '8', bytesOut: '0', reason: 'bad_input' });
    t.is(parse(read(file)).length, 3, read(file)); // connection lines only, by default
  });
}

test('workers 0, stdout, both kinds of line in a custom format with the server\'s --name; stderr keeps the JSON log alone', async (t) => {
  const format = '{kind} peer={peer} srv={server} w={worker} pid={pid} seq={seq} n={requests} in={bytes_in} out={bytes_out} ms={duration} why={reason} at={iso}';
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '0', '--name', 'edge-1',
    '--access-log-lines', 'both', '--access-log-format', format]);
  const port = await exchange(ss.port, 'one\ntwo\n', 8);
  const ours = () => ss.stdout.split('\n').filter((l) => l.includes(` peer=127.0.0.1:${port} `));
  await eventually(() => (ours().length >= 3 ? true : undefined), 'three access lines on stdout');
  const [r1, r2, c] = ours();
  const iso = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';
  t.regex(r1!, new RegExp(`^req peer=127\\.0\\.0\\.1:${port} srv=edge-1 w=0 pid=${ss.pid} seq=1 n=- in=- out=- ms=\\d+\\.\\d{3} why=- at=${iso}$`));
  t.regex(r2!, new RegExp(`^req peer=127\\.0\\.0\\.1:${port} srv=edge-1 w=0 pid=${ss.pid} seq=2 n=- in=- out=- ms=\\d+\\.\\d{3} why=- at=${iso}$`));
  t.regex(c!, new RegExp(`^conn peer=127\\.0\\.0\\.1:${port} srv=edge-1 w=0 pid=${ss.pid} seq=- n=2 in=8 out=8 ms=\\d+ why=clean at=${iso}$`));
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.true(ss.logs.some((l) => l.msg === 'stopped'), ss.stderr);
  t.false(ss.stderr.includes(' peer='), ss.stderr);
});

test('request lines only: one per request, none per connection', async (t) => {
  const dir = tempDir(t, 'access-req');
  const file = join(dir, 'access.log');
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '1', '--access-log', file, '--access-log-lines', 'request']);
  const port = await exchange(ss.port, 'a\nb\nc\n', 6);
  const mine = await eventually(() => {
    const found = parse(read(file)).filter((l) => l.peer === `127.0.0.1:${port}`);
    return found.length >= 3 ? found : undefined;
  }, 'three request lines');
  t.deepEqual(mine.map((l) => l.seq), ['1', '2', '3']);
  t.true(mine.every((l) => l.reason === '-' && l.requests === '-' && /^\d+\.\d{3}$/.test(l.duration)));
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.is(parse(read(file)).length, 3); // and no connection line at the stop
});

test('logrotate: after mv and USR1 to the arbiter, new lines go to a new file; the moved one keeps the old', async (t) => {
  const dir = tempDir(t, 'access-rotate');
  const file = join(dir, 'access.log');
  const moved = `${file}.1`;
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '2', '--access-log', file]);
  const before = await exchange(ss.port, 'x\n', 2);
  await connLines(() => read(file), before);
  renameSync(file, moved);
  process.kill(ss.pid, 'SIGUSR1');
  // Every worker gets it over IPC: connect until both have written to the new file (bounded).
  await eventually(async () => {
    await exchange(ss.port, 'y\n', 2);
    const workers = new Set(parse(read(file)).map((l) => l.worker));
    return workers.size === 2 ? true : undefined;
  }, 'lines of both workers in the new file', 30_000);
  const after = await exchange(ss.port, 'z\n', 2);
  await connLines(() => read(file), after);
  t.is(parse(read(moved)).filter((l) => l.peer === `127.0.0.1:${before}`).length, 1);
  t.false(parse(read(file)).some((l) => l.peer === `127.0.0.1:${before}`));
  t.false(parse(read(moved)).some((l) => l.peer === `127.0.0.1:${after}`));
});

/** The files a process has open, by path. */
function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).flatMap((fd) => {
    try {
      return [readlinkSync(join(dir, fd))];
    } catch {
      return []; // closed meanwhile
    }
  });
}

test('logrotate: a USR1 while a worker is starting, its file already open, reaches that worker too', async (t) => {
  const dir = tempDir(t, 'access-boot');
  const file = join(dir, 'access.log');
  const moved = `${file}.1`;
  const hold = join(dir, 'hold');
  // access-log before chaos: a new worker opens its file in workerStart, then chaos keeps it booting while `hold` exists.
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--plugin', CHAOS, '--chaos', 'hold-start-while-file',
    '--chaos-file', hold, '--plugin-timeout', '60', '--workers', '1', '--access-log', file]);
  writeFileSync(hold, '');
  process.kill(ss.pid, 'SIGTTIN');
  await ss.waitForLog((l) => l.msg === `chaos: worker 2 holding its start while ${hold} exists`, 20_000);
  const booting = (await ssInfo(ss.pid)).workers.find((w: { id: number }) => w.id === 2);
  t.is(booting?.state, 'booting');
  await eventually(() => (openFiles(booting.pid).includes(file) ? true : undefined), 'worker 2 to have the file open');
  renameSync(file, moved);
  process.kill(ss.pid, 'SIGUSR1');
  await ss.waitForLog((l) => l.msg === 'SIGUSR1: reopening log files');
  rmSync(hold);
  await ss.waitForLog((l) => l.msg === `worker 2 ready (pid ${booting.pid})`, 20_000);
  // Connect until worker 2 has written a line to either file (bounded): it must be the new one.
  const worker2 = (text: string) => parse(text).filter((l) => l.worker === '2');
  await eventually(async () => {
    await exchange(ss.port, 'y\n', 2);
    return worker2(read(file)).length + worker2(read(moved)).length > 0 ? true : undefined;
  }, 'a line of worker 2', 30_000);
  t.true(worker2(read(file)).length > 0, 'in the file at the path');
  t.deepEqual(worker2(read(moved)), [], 'none in the moved file');
});

for (const workers of ['2', '0']) {
  test(`workers ${workers}: nothing is lost on SIGTERM (buffered lines are written at the stop)`, async (t) => {
    const dir = tempDir(t, 'access-stop');
    const file = join(dir, 'access.log');
    const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', workers, '--access-log', file, '--access-log-lines', 'both']);
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await exchange(ss.port, 'p\nq\nr\n', 6));
    t.is((await ss.stop('SIGTERM')).code, 0);
    const lines = parse(read(file));
    for (const port of ports) {
      const mine = lines.filter((l) => l.peer === `127.0.0.1:${port}`);
      t.deepEqual(mine.map((l) => l.seq).sort(), ['-', '1', '2', '3'], `port ${port}`);
    }
    t.is(lines.length, 80);
  });
}

test('set in a config, a relative accessLog is in the config file\'s folder, not the working directory', async (t) => {
  const root = tempDir(t, 'access-config');
  const confDir = join(root, 'conf');
  const cwd = join(root, 'work');
  mkdirSync(confDir);
  mkdirSync(cwd);
  writeFileSync(join(confDir, 'server.config.mjs'), "export default { plugins: ['line', ['access-log', { accessLog: 'access.log' }]] };\n");
  const ss = await startSs(t, ['--config', '../conf/server.config.mjs', '--workers', '1'], { cwd });
  const port = await exchange(ss.port, 'x\n', 2);
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.is(parse(read(join(confDir, 'access.log'))).filter((l) => l.peer === `127.0.0.1:${port}`).length, 1);
  t.false(existsSync(join(cwd, 'access.log')));
});

test('a reopen that fails (its folder is gone) is logged, and the server goes on serving', async (t) => {
  const dir = tempDir(t, 'access-gone');
  mkdirSync(join(dir, 'logs'));
  const file = join(dir, 'logs', 'access.log');
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '0', '--access-log', file]);
  await connLines(() => read(file), await exchange(ss.port, 'x\n', 2));
  rmSync(join(dir, 'logs'), { recursive: true });
  process.kill(ss.pid, 'SIGUSR1');
  const err = await ss.waitForLog((l) => l.msg.startsWith(`access log ${file}: `), 15_000);
  t.regex(err.msg, /ENOENT/);
  t.is(await ask(ss.port, 'still here', 10_000), 'still here');
  t.is((await ss.stop('SIGTERM')).code, 0);
});

test('mistakes: an unknown token or kind of line exits 2 naming the setting; an unwritable file fails start-up naming it', async (t) => {
  const token = await runSs(['serve', '--plugin', 'line', '--plugin', 'access-log', '--bind', '127.0.0.1:0', '--access-log-format', '{time} {nope}']);
  t.is(token.code, 2);
  t.is(token.stderr.trim().split('\n').length, 1, token.stderr);
  t.regex(token.stderr, /--access-log-format .*\{nope\} is not one/);
  const lines = await runSs(['serve', '--plugin', 'line', '--plugin', 'access-log', '--bind', '127.0.0.1:0', '--access-log-lines', 'all']);
  t.is(lines.code, 2);
  t.regex(lines.stderr, /^ss: invalid --access-log-lines "all": expected one of connection, request, both\n$/);
  const dir = tempDir(t, 'access-bad');
  const nowhere = await runSs(['serve', '--plugin', 'line', '--plugin', 'access-log', '--bind', '127.0.0.1:0', '--access-log', 'no/such/dir/a.log'], { cwd: dir });
  t.is(nowhere.code, 1);
  t.is(nowhere.stderr.trim().split('\n').length, 1, nowhere.stderr);
  t.regex(nowhere.stderr, new RegExp(`--access-log "no/such/dir/a.log": cannot open ${dir}/no/such/dir/a.log \\(ENOENT\\)`));
});
