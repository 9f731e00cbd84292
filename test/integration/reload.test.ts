import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core/process';
import { ask } from '../helpers/client.js';
import { eventually, ssInfo, startSs } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

const PID_HANDLER = join(FIXTURES, 'runtime', 'pid-handler.mjs');
const BALANCES = ['round-robin', 'shared', ...(supportsReusePort() ? ['reuse-port'] : [])];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const balance of BALANCES) {
  test(`${balance}: HUP replaces every worker while a new connection opens every 20 ms; none fails`, async (t) => {
    const ss = await startSs(['--plugin', 'line', '--workers', '2', '--balance', balance, '--handler', PID_HANDLER]);
    t.teardown(() => ss.stop());
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
  const ss = await startSs([], { cwd: dir, freePort: false });
  t.teardown(() => ss.stop());
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
