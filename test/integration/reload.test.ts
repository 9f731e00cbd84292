import test from 'ava';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAOS, startChaos } from '../helpers/chaos.js';
import { ask } from '../helpers/client.js';
import { eventually, isAlive, ssInfo, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { BALANCES, PID_HANDLER, readyPids, replaced, workersRunning } from '../helpers/workers.js';

for (const balance of BALANCES) {
  test(`${balance}: HUP replaces every worker while a new connection opens every 20 ms; none fails`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', balance, '--handler', PID_HANDLER]);
    const before = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => w.pid) as number[];

    const failures: string[] = [];
    const answeredBy: number[] = [];
    let stop = false;
    const loop = (async () => {
      // Bounded: at most 400 connections, one every 20 ms, and the test says when to stop.
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 400 && !stop; i++) {
        pending.push(ask(ss.port, 'pid').then((pid) => { answeredBy.push(Number(pid)); }, (err: Error) => { failures.push(err.message); }));
        await sleep(20);
      }
      await Promise.all(pending);
    })();

    await sleep(500);
    process.kill(ss.pid, 'SIGHUP');
    const after = await eventually(async () => {
      const info = await ssInfo(ss.pid);
      const pids = info.workers.map((w: { pid: number }) => w.pid) as number[];
      return info.monitors[0].workers.alive === 2 && pids.length === 2 && pids.every((p) => !before.includes(p)) ? pids : undefined;
    }, 'two new workers and the old ones gone', 15_000);
    await sleep(500); // keep connecting after the old workers left
    stop = true;
    await loop;

    t.deepEqual(failures, [], 'no connection refused or unanswered');
    t.true(answeredBy.some((p) => before.includes(p)), 'old workers served before the reload');
    t.true(answeredBy.some((p) => after.includes(p)), 'new workers serve after it');
    t.true(answeredBy.length >= 40, `${answeredBy.length} requests`);
  });
}

test('HUP re-reads the config: a new workers count and plugin setting apply; a broken config keeps the old one serving', async (t) => {
  const dir = tempDir(t, 'reload');
  const config = join(dir, 'socketserver.config.mjs');
  const write = (workers: number, maxLine: string) => writeFileSync(config,
    `export default { workers: ${workers}, bind: '127.0.0.1:0', plugins: [['line', { maxLine: '${maxLine}' }]] };\n`);
  write(1, '64kb');
  const ss = await startSs(t, [], { cwd: dir, freePort: false });
  t.is(await ask(ss.port, 'x'.repeat(20)), 'x'.repeat(20));

  write(2, '10b');
  process.kill(ss.pid, 'SIGHUP');
  await eventually(async () => {
    const info = await ssInfo(ss.pid, { cwd: dir });
    return info.monitors[0].workers.wanted === 2 && info.monitors[0].workers.alive === 2
      && info.workers.every((w: { state: string }) => w.state === 'running') && info.workers.length === 2 ? true : undefined;
  }, 'two workers from the new config', 15_000);
  await t.throwsAsync(ask(ss.port, 'x'.repeat(20)), undefined, 'the new line limit (10 bytes) applies');
  t.is(await ask(ss.port, 'short'), 'short');

  writeFileSync(config, 'export default { workers: "many" };\n');
  process.kill(ss.pid, 'SIGHUP');
  const failed = await ss.waitForLog((l) => l.msg.startsWith('reload failed'));
  t.regex(failed.msg, /still serving the previous config: invalid workers in .*socketserver\.config\.mjs "many"/);
  t.is(await ask(ss.port, 'still'), 'still');
  t.is((await ssInfo(ss.pid, { cwd: dir })).monitors[0].workers.alive, 2);
});

// Serial, as before: one server at a time (each starts several processes, and the suite shares two
// cores); ava runs a file's serial tests before its others.
test.serial('HUP with a handler that no longer parses: reload failed, the old workers serve on, the next good HUP replaces them', async (t) => {
  const dir = tempDir(t, 'bad-hup');
  const handler = join(dir, 'handler.mjs');
  copyFileSync(PID_HANDLER, handler);
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', handler]);
  const before = readyPids(ss);

  writeFileSync(handler, 'export default function (message) {\n  return message\n'); // no closing brace
  process.kill(ss.pid, 'SIGHUP');
  const failed = await ss.waitForLog((l) => l.msg.startsWith('reload failed'));
  t.regex(failed.msg, /^reload failed, still serving the previous config: handler .*handler\.mjs failed to load/);
  t.regex(String(failed.at), /handler\.mjs:3:\d+$/, 'where it stopped parsing: after the last line');
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
  t.regex(String(failed.at), /^test\/fixtures\/runtime\/chaos\.mjs:34:\d+$/, 'where in the plugin, from the working directory');
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

test.serial('a HUP during a reload is not dropped: one more reload follows', async (t) => {
  const dir = tempDir(t, 'hup-queue');
  const config = join(dir, 'socketserver.config.mjs');
  const write = (workers: number, chaos: string) => writeFileSync(config,
    `export default { workers: ${workers}, bind: '127.0.0.1:0', plugins: ['line', [${JSON.stringify(CHAOS)}, { chaos: '${chaos}', chaosDelay: 1500 }]] };\n`);
  write(1, 'none');
  const ss = await startSs(t, [], { cwd: dir, freePort: false });

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
