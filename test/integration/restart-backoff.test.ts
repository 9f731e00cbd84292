import test from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { startChaos } from '../helpers/chaos.js';
import { ask } from '../helpers/client.js';
import { eventually, isAlive } from '../helpers/ss.js';
import { readyPids } from '../helpers/workers.js';

// A worker that keeps failing is restarted after a growing wait.
// Serial: one server at a time (each test starts several processes, and the suite shares two cores).

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
  const failures = ss.logs.filter((l) => /failed to start: plugin "chaos" failed in workerStart: database down/.test(l.msg));
  t.true(failures.length >= 3);
  t.true(failures.every((l) => /^test\/fixtures\/runtime\/chaos\.mjs:34:\d+$/.test(String(l.at))), 'each names where in the plugin');
  t.true(isAlive(ss.pid), 'the arbiter is still up');

  rmSync(down);
  const answer = Number(await ask(ss.port, 'pid', 15_000));
  t.not(answer, first);
  // The worker may answer before its ready line, written by the arbiter, reaches us through the pipe.
  t.true(await eventually(() => readyPids(ss).includes(answer) || undefined, 'the answering worker to be logged ready', 5000));
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
