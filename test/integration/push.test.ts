import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { eventually, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// connection.send: the server speaks first, in order with replies, bounded for clients that do not read.

const PUSH_HANDLER = join(FIXTURES, 'runtime', 'push-handler.mjs');

async function closedCounts(ss: SsProcess): Promise<Record<string, number>> {
  const doc = await ssInfo(ss.pid);
  return (doc.workers as { stats: { connections: { closed: Record<string, number> } } }[])[0]!.stats.connections.closed;
}

test('pushes reach a client that sends nothing more, and count as activity for --keep-alive', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PUSH_HANDLER, '--keep-alive', '1']);
  const c = await Client.open(ss.port);
  c.send('ticks 40\n'); // 2 s of pushes, one every 50 ms: twice keep_alive
  const lines = await c.lines(41, 10_000);
  t.deepEqual(lines, ['started', ...Array.from({ length: 40 }, (_, i) => `tick ${i + 1}`)]);
  t.false(c.closed, 'not idle while pushed to');
  await c.waitClose(5000); // idle once the pushes stop
  t.is((await closedCounts(ss)).idle, 1);
});

test('a push never overtakes the reply to an earlier request, and goes before replies to later ones', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PUSH_HANDLER]);
  const c = await Client.open(ss.port);
  c.send('slow\npush a\nhello\n'); // the push is sent while "slow" is still being worked on
  t.deepEqual(await c.lines(4, 10_000), ['slow done', 'a', 'pushed', 'hello']);
  c.send('push b\n');
  t.deepEqual(await c.lines(2), ['b', 'pushed']);
  c.destroy();
});

test('a client that does not read its pushes is closed as a slow consumer at --push-output-limit; the publisher is not held up', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PUSH_HANDLER, '--push-output-limit', '1mb']);
  const reader = await Client.open(ss.port);
  const sleeper = await Client.open(ss.port);
  sleeper.socket.pause(); // reads nothing: the kernel's buffers fill, then ss's
  sleeper.socket.on('error', () => {});
  sleeper.send('flood 200 65536\n'); // 12.5 MiB pushed at once
  const line = await ss.waitForLog((l) => /: slow consumer: [\d.]+ MiB unread, over push_output_limit=1\.0 MiB; closed$/.test(l.msg));
  t.is(line.level, 40);
  sleeper.socket.resume(); // what the kernel held, then the close
  await sleeper.waitClose(10_000);
  t.true(sleeper.received.length < 12 * 2 ** 20, 'not every push was written');
  reader.send('flood 100 1000\n');
  const lines = await reader.lines(101, 10_000);
  t.is(lines.at(-1), 'flooded 100');
  t.is(lines.filter((l) => l === 'x'.repeat(1000)).length, 100);
  await eventually(async () => ((await closedCounts(ss)).slow_consumer === 1 ? true : undefined), 'slow_consumer 1');
  reader.destroy();
});

test('over --push-output-soft-limit for --push-output-soft-seconds, a client that is pushed to is closed as a slow consumer', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PUSH_HANDLER,
    '--push-output-soft-limit', '256kb', '--push-output-soft-seconds', '1']);
  const sleeper = await Client.open(ss.port);
  sleeper.socket.pause();
  sleeper.socket.on('error', () => {});
  // 6 MiB at once: over the soft limit, under the hard one; the ticks after it find it still over.
  sleeper.send('ticks 100\nflood 100 65536\n');
  await sleep(500);
  t.false(ss.logs.some((l) => /slow consumer/.test(l.msg)), 'not at once');
  const line = await ss.waitForLog((l) => /: slow consumer: [\d.]+ MiB unread, over push_output_soft_limit=0\.3 MiB for \ds; closed$/.test(l.msg), 15_000);
  t.is(line.level, 40);
  t.is((await closedCounts(ss)).slow_consumer, 1);
  sleeper.destroy();
});
