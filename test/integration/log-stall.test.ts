import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ask, Client } from '../helpers/client.js';
import { isAlive, REPO, ssInfo, startSs } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { PID_HANDLER } from '../helpers/workers.js';

// A log destination that stops taking lines (a stuck service manager, `ss serve 2>&1 | less`
// left unread) never stops serving: lines are held, then dropped and counted.

const FLOOD = join(FIXTURES, 'runtime', 'log-flood.mjs');
const METRICS = ['--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0'];

/** socketserver_log_lines_dropped_total of the server's workers, or of its arbiter, as /metrics says. */
async function droppedMetric(url: string, who: 'workers' | 'arbiter'): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  const m = new RegExp(`^socketserver_log_lines_dropped_total\\{server="line",process="${who}"\\} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no socketserver_log_lines_dropped_total for ${who} in:\n${text}`);
  return Number(m[1]);
}

/** A connection to a worker other than those of `not`, with that worker's pid (round-robin: the next worker in turn). */
async function connectOther(port: number, not: readonly number[]): Promise<[Client, number]> {
  for (let i = 0; i < 10; i++) {
    const c = await Client.open(port);
    c.send('pid\n');
    const pid = Number((await c.lines(1, 10_000))[0]);
    if (!not.includes(pid)) return [c, pid];
    c.destroy();
  }
  throw new Error('no other worker answered');
}

test('stderr a pipe nobody reads: workers keep serving, a blocked one is killed and replaced, and the dropped lines are counted', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', FLOOD, ...METRICS, '--workers', '2', '--timeout', '3',
    '--balance', 'round-robin', '--handler', PID_HANDLER]);
  const metrics = (await ss.waitForLog((l) => typeof l.metrics === 'string')).metrics as string;
  const stderr = ss.child.stderr!;
  stderr.pause(); // nobody reads it from now on: once Node's own buffer is full, the pipe fills
  try {
    const [victim, victimPid] = await connectOther(ss.port, []);
    const [other, otherPid] = await connectOther(ss.port, [victimPid]);

    // Each worker logs about 3 MiB at once, far more than the pipe holds: both still answer.
    for (const c of [victim, other]) {
      c.send('flood 3000 1000\n');
      t.is((await c.lines(1, 10_000))[0], 'flood 3000 1000', 'a worker whose log is not read answers');
    }

    // The victim's event loop blocks (60 s): the watchdog kills it after 3 s although the arbiter's
    // log line about it cannot be written, and the other worker answers meanwhile.
    const blockedAt = Date.now();
    victim.send('block\n');
    let killedAfter: number | undefined;
    let replacement: number | undefined;
    const answeredBy = new Set<number>();
    while (Date.now() - blockedAt < 40_000 && (killedAfter === undefined || replacement === undefined)) {
      other.send('pid\n');
      t.is(Number((await other.lines(1, 10_000))[0]), otherPid, 'the other worker answers throughout');
      // A fresh connection goes to any worker but the blocked one (one it was sent goes elsewhere at its kill).
      const pid = Number(await ask(ss.port, 'pid', 20_000));
      answeredBy.add(pid);
      if (pid !== victimPid && pid !== otherPid) replacement = pid;
      if (killedAfter === undefined && !isAlive(victimPid)) killedAfter = Date.now() - blockedAt;
      await sleep(200);
    }
    t.false(answeredBy.has(victimPid), 'the blocked worker answered nothing');
    t.not(killedAfter, undefined, 'the blocked worker was killed');
    t.true(killedAfter! < 30_000, `killed ${killedAfter} ms after it blocked (timeout 3 s)`);
    t.not(replacement, undefined, 'its replacement answers');

    // The arbiter still answers info, and counts what the surviving worker dropped.
    const info = await ssInfo(ss.pid);
    const survivor = (info.workers as { pid: number; droppedLogLines?: number }[]).find((w) => w.pid === otherPid);
    t.true((survivor?.droppedLogLines ?? 0) > 0, `the flooding worker counts its dropped lines: ${JSON.stringify(survivor?.droppedLogLines)}`);
    t.is(typeof info.arbiter.droppedLogLines, 'number');
    t.true(await droppedMetric(metrics, 'workers') >= survivor!.droppedLogLines!, '/metrics counts them too');
    victim.destroy();
    other.destroy();
  } finally {
    stderr.resume();
  }

  // Read again, the destination drains: the lines held come out, then one line counting those dropped.
  const notice = await ss.waitForLog((l) => /log lines? dropped/.test(l.msg), 20_000);
  t.true((notice.dropped as number) > 0, JSON.stringify(notice));
  t.is(notice.level, 40);
  t.is(notice.msg, `${notice.dropped as number} log lines dropped: the log destination was not draining`);
  await ss.waitForLog((l) => /silent for 3s \(event loop blocked\?\): killed/.test(l.msg), 20_000);
});

test('lines reach a reader that keeps reading complete and in order, with nothing dropped', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', FLOOD, ...METRICS, '--workers', '1', '--handler', PID_HANDLER]);
  const c = await Client.open(ss.port);
  // 3000 lines of about 250 bytes: logged in one go, well under what a process holds.
  c.send('flood 3000 150\n');
  t.is((await c.lines(1, 10_000))[0], 'flood 3000 150');
  c.send('flood 1 0\n');
  t.is((await c.lines(1, 10_000))[0], 'flood 1 0');
  c.destroy();
  await ss.waitForLog((l) => l.msg === 'flood' && l.i === 0 && (l.pad as string).length === 0, 10_000);
  const flood = ss.logs.filter((l) => l.msg === 'flood' && (l.pad as string).length === 150).map((l) => l.i);
  t.deepEqual(flood, Array.from({ length: 3000 }, (_, i) => i));
  t.false(ss.logs.some((l) => /dropped/.test(l.msg)), 'no line dropped');
  const info = await ssInfo(ss.pid);
  t.is(info.workers[0].droppedLogLines, 0);
  t.is(info.arbiter.droppedLogLines, 0);
  const metrics = (await ss.waitForLog((l) => typeof l.metrics === 'string')).metrics as string;
  t.is(await droppedMetric(metrics, 'workers'), 0);
  t.is(await droppedMetric(metrics, 'arbiter'), 0);
});

test('a process that exits at once still writes the lines it logged just before, in order', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', FLOOD, '--workers', '0']);
  const c = await Client.open(ss.port);
  c.send('flood 2000 200 exit\n'); // about 500 KiB logged, then process.exit in the same turn
  const exit = await ss.exited;
  c.destroy();
  t.is(exit.code, 3);
  const flood = ss.logs.filter((l) => l.msg === 'flood').map((l) => l.i);
  t.deepEqual(flood, Array.from({ length: 2000 }, (_, i) => i));
});

test('stderr in blocking mode and unread: the event loop goes on; read again, the lines held come, then the count of those dropped', async (t) => {
  // Not through ss: Node puts stderr in non-blocking mode in every ss process, but a child's
  // start or a process's exit puts the shared pipe back in blocking mode for a while.
  const child = spawn(process.execPath, [join(FIXTURES, 'runtime', 'blocking-stderr-logger.mjs')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  child.stderr.pause();
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  const ticks = () => out.split('\n').filter((l) => l.startsWith('tick')).length;
  for (let i = 0; i < 300 && ticks() < 60; i++) await sleep(100);
  t.is(ticks(), 60, 'its timers ran on while its stderr was full');

  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  child.stderr.resume();
  t.is(await closed, 0);
  const lines = err.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; i?: number; dropped?: number });
  const flood = lines.filter((l) => l.msg === 'flood').map((l) => l.i);
  t.true(flood.length > 100 && flood.length < 3000, `${flood.length} lines held`);
  t.deepEqual(flood, Array.from({ length: flood.length }, (_, i) => i), 'the first ones, in order');
  const notice = lines.find((l) => l.dropped !== undefined);
  t.is(notice?.dropped, 3000 - flood.length, 'the rest counted');
});
