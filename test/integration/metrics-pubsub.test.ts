import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { eventually, isAlive, startSs } from '../helpers/ss.js';
import { metricsUrl, scrapeUntil, value, type Sample } from '../helpers/metrics.js';
import { FIXTURES } from '../helpers/temp.js';
import { readyPids } from '../helpers/workers.js';

// Pushes and channels in /metrics, through the real ss serving the chat fixture.

const CHAT = join(FIXTURES, 'runtime', 'chat-handler.mjs');

/** Send `command` and wait for its reply line `reply` (what came before it, pushes included, is dropped). */
async function command(c: Client, cmd: string, reply: string): Promise<void> {
  c.received = Buffer.alloc(0);
  c.send(`${cmd}\n`);
  await c.until(() => c.received.toString('latin1').split('\n').includes(reply), `"${reply}" after "${cmd.slice(0, 40)}"`, 10_000);
}

const NAMES = ['pushes_total', 'pubsub_published_total', 'pubsub_delivered_total', 'pubsub_dropped_total', 'pubsub_channels', 'pubsub_patterns', 'pubsub_subscribers'];
/** The pub/sub figures of server `line`, in the order of NAMES, then slow-consumer closes. */
const figures = (s: Sample[]) => [...NAMES.map((n) => value(s, `socketserver_${n}`, { server: 'line' })),
  value(s, 'socketserver_connections_closed_total', { server: 'line', reason: 'slow_consumer' })];

test('pushes, published, delivered and dropped messages, channels, patterns and subscribers; the counters stay when the worker is replaced', async (t) => {
  // One worker: channels are those of one process. A subscriber sent more than 1 KiB at once is a slow consumer.
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0', '--workers', '1',
    '--handler', CHAT, '--push-output-limit', '1kb']);
  const url = await metricsUrl(ss);
  const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => Client.open(ss.port)));
  t.teardown(() => { for (const x of [a, b, c, d]) x!.destroy(); });
  await command(a!, 'join r1', 'joined r1');
  await command(b!, 'join r1', 'joined r1');
  await command(c!, 'join r2', 'joined r2');
  await command(c!, 'watch r*', 'watching r*');
  await command(d!, 'join big', 'joined big');
  await command(a!, 'say r1 hi', 'sent to 3'); // a and b, and c by its pattern
  await command(c!, 'say r2 yo', 'sent to 2'); // c by name and by pattern
  await command(b!, 'say r3 x', 'sent to 1'); // c by its pattern
  await command(a!, `say big ${'x'.repeat(1500)}`, 'sent to 0'); // over the limit for d: dropped, and d closed
  await d!.waitClose(10_000);

  // pushes, published, delivered, dropped; channels r1 and r2 (big left with d), one pattern, three subscribers; d's close.
  const busy = await scrapeUntil(url, (s) => value(s, 'socketserver_pubsub_published_total', { server: 'line' }) === 4, '4 published');
  t.deepEqual(figures(busy), [6, 4, 6, 1, 2, 1, 3, 1]);

  // Every subscriber gone, then the worker replaced (HUP): the counters stay, the gauges fall to 0.
  for (const x of [a, b, c]) x!.destroy();
  await scrapeUntil(url, (s) => value(s, 'socketserver_pubsub_subscribers', { server: 'line' }) === 0, 'no subscriber left');
  const old = readyPids(ss);
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.endsWith('reloaded, every worker runs the new config'), 30_000);
  await eventually(() => (old.some(isAlive) ? undefined : true), 'the old worker to exit', 30_000);
  const replaced = await scrapeUntil(url, (s) => value(s, 'socketserver_worker_restarts_total', { server: 'line', reason: 'reload' }) === 1 &&
    value(s, 'socketserver_workers', { server: 'line' }) === 1, 'the new worker serving');
  t.deepEqual(figures(replaced), [6, 4, 6, 1, 0, 0, 0, 1]);

  // The new worker's figures add to them.
  const e = await Client.open(ss.port);
  t.teardown(() => e.destroy());
  await command(e, 'join r9', 'joined r9');
  await command(e, 'say r9 again', 'sent to 1');
  const more = await scrapeUntil(url, (s) => value(s, 'socketserver_pubsub_published_total', { server: 'line' }) === 5, '5 published');
  t.deepEqual(figures(more), [7, 5, 7, 1, 1, 0, 1, 1]);
  e.destroy();
  t.is((await ss.stop()).code, 0);
});
