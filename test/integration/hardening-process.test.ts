import test, { type ExecutionContext } from 'ava';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask } from '../helpers/client.js';
import { eventually, isAlive, launchSs, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

const PID_HANDLER = join(FIXTURES, 'runtime', 'pid-handler.mjs');
const CHAOS = join(FIXTURES, 'runtime', 'chaos.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// One server at a time: each test starts several processes, and the suite shares two cores.

/** Pids of the workers ready so far, from the arbiter's log. */
function readyPids(ss: SsProcess): number[] {
  return ss.logs.filter((l) => /^worker \d+ ready/.test(l.msg)).map((l) => l.workerPid as number);
}

/** Pids of the workers `ss info` lists, once `n` are alive and running. */
function workersRunning(ss: SsProcess, n: number, opts: { cwd?: string } = {}): Promise<number[]> {
  return eventually(async () => {
    const info = await ssInfo(ss.pid, opts);
    const running = info.workers.filter((w: { state: string }) => w.state === 'running');
    return info.monitors[0].workers.alive === n && info.workers.length === n && running.length === n
      ? info.workers.map((w: { pid: number }) => w.pid) as number[] : undefined;
  }, `${n} workers running`, 15_000);
}

/** The pids of two running workers, none of them one of `before` (a reload done). */
function replaced(ss: SsProcess, before: readonly number[]): Promise<number[]> {
  return eventually(async () => {
    const pids = await workersRunning(ss, 2);
    return pids.every((p) => !before.includes(p)) ? pids : undefined;
  }, 'two new workers', 15_000);
}

/**
 * `ss serve` of 'line' answering pids, with `workers` workers and the chaos plugin's `fault`, which
 * acts while `file` (absent at first) exists. Stopped at teardown.
 */
async function startChaos(t: ExecutionContext, fault: string, workers: number): Promise<{ ss: SsProcess; file: string }> {
  const file = join(tempDir(t, fault), 'on');
  const ss = await startSs(['--plugin', 'line', '--workers', String(workers), '--handler', PID_HANDLER,
    '--plugin', CHAOS, '--chaos', fault, '--chaos-file', file]);
  t.teardown(() => ss.stop());
  return { ss, file };
}

test.serial('HUP with a handler that no longer parses: reload failed, the old workers serve on, the next good HUP replaces them', async (t) => {
  const dir = tempDir(t, 'bad-hup');
  const handler = join(dir, 'handler.mjs');
  copyFileSync(PID_HANDLER, handler);
  const ss = await startSs(['--plugin', 'line', '--workers', '2', '--handler', handler]);
  t.teardown(() => ss.stop());
  const before = readyPids(ss);

  writeFileSync(handler, 'export default function (message) {\n  return message\n'); // no closing brace
  process.kill(ss.pid, 'SIGHUP');
  const failed = await ss.waitForLog((l) => l.msg.startsWith('reload failed'));
  t.regex(failed.msg, /^reload failed, still serving the previous config: handler .*handler\.mjs failed to load/);
  await sleep(1000); // time for any worker to (wrongly) be replaced
  t.false(ss.logs.some((l) => /failed to start/.test(l.msg)), 'no worker was started from the broken handler');
  t.true(before.includes(Number(await ask(ss.port, 'pid'))), 'an old worker answers');
  t.deepEqual((await workersRunning(ss, 2)).sort(), [...before].sort());

  writeFileSync(handler, 'export default (message) => (String(message) === "pid" ? "v2 " + process.pid : message);\n');
  process.kill(ss.pid, 'SIGHUP');
  const after = await replaced(ss, before);
  t.regex(await ask(ss.port, 'pid'), /^v2 \d+$/);
  t.false(after.some((p) => before.includes(p)));
});

test.serial('HUP whose new workers fail in workerStart: logged once, the old workers serve on, the next good HUP replaces them', async (t) => {
  const { ss, file: down } = await startChaos(t, 'fail-start-if-file', 2);
  const before = readyPids(ss);

  writeFileSync(down, ''); // the arbiter loads fine; every new worker fails in workerStart
  process.kill(ss.pid, 'SIGHUP');
  const failed = await ss.waitForLog((l) => l.msg.startsWith('reload failed'));
  t.regex(failed.msg, /^reload failed, still serving the previous config: worker \d \(pid \d+\) failed to start: plugin "chaos" failed in workerStart: database down$/);
  t.is(failed.level, 50);
  await sleep(1500);
  t.is(ss.logs.filter((l) => l.msg.startsWith('reload failed')).length, 1, 'logged once');
  t.true(isAlive(ss.pid));
  t.deepEqual((await workersRunning(ss, 2)).sort(), [...before].sort(), 'the old workers, still running');
  t.true(before.includes(Number(await ask(ss.port, 'pid'))));

  rmSync(down);
  process.kill(ss.pid, 'SIGHUP');
  await replaced(ss, before);
  t.false(before.includes(Number(await ask(ss.port, 'pid'))));
});

test.serial('a workerStart that fails while serving (a database down) backs off and retries, then serves again', async (t) => {
  const { ss, file: down } = await startChaos(t, 'fail-start-if-file', 1);
  const [first] = readyPids(ss);

  writeFileSync(down, '');
  process.kill(first!, 'SIGKILL');
  // Failures 2, 3, 4 wait 0.25 s, 0.5 s, 1 s before the next start: more than the 3 that stop a first start.
  const waits = [];
  for (const n of [2, 3, 4]) {
    waits.push(await ss.waitForLog((l) => l.msg.startsWith(`line: ${n} worker failures in a row: next start in `), 15_000));
  }
  t.deepEqual(waits.map((l) => l.backoff), [0.25, 0.5, 1]);
  t.true(ss.logs.filter((l) => /failed to start: plugin "chaos" failed in workerStart: database down/.test(l.msg)).length >= 3);
  t.true(isAlive(ss.pid), 'the arbiter is still up');

  rmSync(down);
  const answer = Number(await ask(ss.port, 'pid', 15_000));
  t.not(answer, first);
  t.true(readyPids(ss).includes(answer));
});

test.serial('a worker that crashes right after it is ready is restarted with a growing wait, logged', async (t) => {
  const { ss, file: crash } = await startChaos(t, 'crash-if-file', 1);
  writeFileSync(crash, '');
  process.kill(readyPids(ss)[0]!, 'SIGKILL');
  const waits = [];
  for (const n of [2, 3, 4]) {
    waits.push(await ss.waitForLog((l) => l.msg.startsWith(`line: ${n} worker failures in a row: next start in `), 15_000));
  }
  t.deepEqual(waits.map((l) => l.backoff), [0.25, 0.5, 1]);
  t.true(ss.logs.filter((l) => /exited with code 3: replacing it/.test(l.msg)).length >= 3);
  rmSync(crash);
  await eventually(async () => (Number(await ask(ss.port, 'pid')) > 0 ? true : undefined), 'a worker serving again', 15_000);
});

test.serial('HUP and TTIN sent to the whole process group: workers ignore them, the arbiter acts, nothing dies of the signal', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '2', '--handler', PID_HANDLER], { detached: true });
  t.teardown(async () => {
    try { process.kill(-ss.pid, 'SIGCONT'); } catch { /* gone */ }
    await ss.stop();
    try { process.kill(-ss.pid, 'SIGKILL'); } catch { /* every one gone */ }
  });
  const before = readyPids(ss);
  const failures: string[] = [];
  let stop = false;
  const loop = (async () => {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 300 && !stop; i++) { // bounded: at most 300 connections, one every 20 ms
      pending.push(ask(ss.port, 'pid').then(() => {}, (err: Error) => { failures.push(err.message); }));
      await sleep(20);
    }
    await Promise.all(pending);
  })();

  process.kill(-ss.pid, 'SIGHUP');
  await replaced(ss, before);
  process.kill(-ss.pid, 'SIGTTIN');
  const three = await workersRunning(ss, 3);
  for (const pid of three) t.not(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0], 'T', `worker ${pid} not stopped`);
  stop = true;
  await loop;
  t.deepEqual(failures, []);
  t.false(ss.logs.some((l) => /exited with signal/.test(l.msg)), 'no worker died of a signal');
  t.true(ss.logs.some((l) => l.msg === 'SIGTTIN: one worker more'));
});

test.serial('a HUP during a reload is not dropped: one more reload follows', async (t) => {
  const dir = tempDir(t, 'hup-queue');
  const config = join(dir, 'socketserver.config.mjs');
  const write = (workers: number, chaos: string) => writeFileSync(config,
    `export default { workers: ${workers}, bind: '127.0.0.1:0', plugins: ['line', [${JSON.stringify(CHAOS)}, { chaos: '${chaos}', chaosDelay: 1500 }]] };\n`);
  write(1, 'none');
  const ss = await startSs([], { cwd: dir, freePort: false });
  t.teardown(() => ss.stop());

  write(2, 'slow-apply');
  process.kill(ss.pid, 'SIGHUP');
  // The arbiter has read this config and is applying it (1.5 s) when the next HUP comes.
  await ss.waitForLog((l) => l.pid === ss.pid && l.msg.startsWith('chaos: applying slowly'));
  write(3, 'none');
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg === 'a reload is under way: one more follows it');
  await workersRunning(ss, 3, { cwd: dir });
  const info = await ssInfo(ss.pid, { cwd: dir });
  t.is(info.monitors[0].workers.wanted, 3, 'the last config applies');
  t.is(await ask(ss.port, 'still'), 'still');
});

for (const workers of ['1', '0']) {
  test.serial(`--workers ${workers}: TERM while monitorStart runs stops cleanly: exit 0, pidfile removed`, async (t) => {
    const dir = tempDir(t, 'term-start');
    const pidfile = join(dir, 'ss.pid');
    const ss = launchSs(['serve', '--plugin', 'line', '--workers', workers, '--bind', '127.0.0.1:0', '--pidfile', pidfile,
      '--plugin', CHAOS, '--chaos', 'slow-monitor-start', '--chaos-delay', '3000']);
    t.teardown(() => ss.stop('SIGKILL'));
    await ss.waitForLog((l) => l.msg.startsWith('chaos: monitorStart waiting'), 15_000);
    t.true(existsSync(pidfile));
    process.kill(ss.pid, 'SIGTERM');
    const exit = await ss.exited;
    t.deepEqual(exit, { code: 0, signal: null });
    t.false(existsSync(pidfile), 'pidfile removed');
    t.false(ss.logs.some((l) => l.msg.startsWith('serving ')));
  });
}

test.serial('a plugin sending junk over IPC from a worker: each message is logged and ignored, the arbiter serves on', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '1', '--plugin', CHAOS, '--chaos', 'ipc-junk']);
  t.teardown(() => ss.stop());
  const junk = await eventually(() => {
    const lines = ss.logs.filter((l) => /sent a message that is not ours: ignored/.test(l.msg));
    return lines.length === 12 ? lines : undefined;
  }, 'twelve junk messages logged', 5000);
  t.regex(junk[0]!.msg, /\(null\)$/);
  t.regex(junk[8]!.msg, /\("stats" without the fields it needs\)$/);
  t.regex(junk[9]!.msg, /\("stats" without the fields it needs\)$/);
  t.regex(junk[10]!.msg, /\("kept" with a handle it cannot have\)$/);
  t.regex(junk[11]!.msg, /\("beat" with a handle it cannot have\)$/);
  t.is(junk[0]!.level, 40);
  t.is(await ask(ss.port, 'fine'), 'fine');
  t.is((await ssInfo(ss.pid)).workers.length, 1);
});

test.serial('round-robin: a worker stopped (SIGSTOP) gets no new connection once its heartbeat is late; the other serves them', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', PID_HANDLER]);
  const [stopped, other] = readyPids(ss);
  process.kill(stopped!, 'SIGSTOP');
  t.teardown(async () => {
    try { process.kill(stopped!, 'SIGCONT'); } catch { /* gone */ }
    await ss.stop();
  });
  await sleep(3000); // heartbeats every second: late after 2.25 s
  for (let i = 0; i < 10; i++) t.is(Number(await ask(ss.port, 'pid', 8000)), other, `connection ${i}`);
  process.kill(stopped!, 'SIGCONT');
  const pids = await eventually(async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(Number(await ask(ss.port, 'pid')));
    return seen.size === 2 ? seen : undefined;
  }, 'both workers serving again');
  t.deepEqual([...pids].sort(), [stopped, other].sort());
});

test.serial('round-robin: connections sent to a worker that dies before taking them go to another worker', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', PID_HANDLER]);
  t.teardown(() => ss.stop());
  const [victim, other] = readyPids(ss);
  process.kill(victim!, 'SIGSTOP');
  // Sent at once, before its heartbeat is late: about half go to the stopped worker.
  const answers = Array.from({ length: 6 }, () => ask(ss.port, 'pid', 10_000));
  await sleep(500);
  process.kill(victim!, 'SIGKILL');
  const pids = (await Promise.all(answers)).map(Number);
  t.false(pids.includes(victim!));
  t.true(pids.includes(other!));
  t.is(pids.length, 6);
});

for (const workers of ['1', '0']) {
  test.serial(`--workers ${workers}: an info tap returning a BigInt and a cycle: ss info answers with error notes, nothing crashes`, async (t) => {
    const ss = await startSs(['--plugin', 'line', '--workers', workers, '--plugin', CHAOS, '--chaos', 'bad-info']);
    t.teardown(() => ss.stop());
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
