import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHAOS } from '../helpers/chaos.js';
import { Client } from '../helpers/client.js';
import { launchSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// Stopping: TERM waits for what is in flight (up to --graceful-timeout), INT and QUIT do not;
// a stop during start-up is clean too.

test('TERM: an in-flight request is answered, the connection closed, exit 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
  const busy = await Client.open(ss.port);
  const idle = await Client.open(ss.port);
  busy.send('slow:800:finished\n');
  await sleep(100);
  const exit = ss.stop('SIGTERM');
  t.deepEqual(await busy.lines(1, 5000), ['finished']);
  await busy.waitClose();
  await idle.waitClose();
  t.is((await exit).code, 0);
});

for (const signal of ['SIGINT', 'SIGQUIT'] as const) {
  test(`${signal}: quick stop, exit 0`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
    const busy = await Client.open(ss.port);
    busy.send('slow:5000:never\n');
    await sleep(100);
    const started = Date.now();
    t.is((await ss.stop(signal)).code, 0);
    t.true(Date.now() - started < 3000, 'did not wait for the slow request');
    await busy.waitClose();
    t.is(String(busy.received), '');
  });
}

test('TERM: a request still running after --graceful-timeout is cut off; exit 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts', '--graceful-timeout', '0.5']);
  const busy = await Client.open(ss.port);
  busy.send('slow:8000:too late\n');
  await sleep(100);
  const started = Date.now();
  t.is((await ss.stop('SIGTERM')).code, 0);
  const took = Date.now() - started;
  t.true(took >= 400 && took < 5000, `stopped after ${took} ms`);
  await busy.waitClose();
  t.is(String(busy.received), '');
  t.truthy(ss.logs.find((l) => l.level === 40 && /closing 1 connection\(s\) still open after 0\.5s/.test(l.msg)));
});

// Serial, as before: one server at a time (each starts several processes, and the suite shares two
// cores); ava runs a file's serial tests before its others.
for (const workers of ['1', '0']) {
  test.serial(`--workers ${workers}: TERM while monitorStart runs stops cleanly: exit 0, pidfile removed`, async (t) => {
    const dir = tempDir(t, 'term-start');
    const pidfile = join(dir, 'ss.pid');
    const ss = launchSs(t, ['serve', '--plugin', 'line', '--workers', workers, '--bind', '127.0.0.1:0', '--pidfile', pidfile,
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
