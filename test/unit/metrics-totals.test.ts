import test from 'ava';
import { CLOSE_REASONS, type StatsSnapshot, type WorkerInfo } from '@socketserver/core';
import type * as Totals from '../../plugins/metrics/src/totals.js';
import type * as Figures from '../../plugins/metrics/src/figures.js';

// The plugin exports only itself: its sums are loaded from its build, as ss runs it.
const { gaugesOf, ServerTotals } = await import(new URL('../../../plugins/metrics/dist/totals.js', import.meta.url).href) as typeof Totals;
const { figuresRegistry } = await import(new URL('../../../plugins/metrics/dist/figures.js', import.meta.url).href) as typeof Figures;

const BUCKETS = [0.01, 0.1];

/** A worker's stats: `n` scales every counter; `pubsub` as a worker with channels reports it, or none. */
function stats(n: number, pubsub?: StatsSnapshot['pubsub'], slow = 0): StatsSnapshot {
  const closed = Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as Record<typeof CLOSE_REASONS[number], number>;
  closed.slow_consumer = slow;
  return {
    connections: { active: n, accepted: n, closed, memory: 0 },
    requests: 10 * n, pushes: 100 * n, bytes: { received: n, sent: n }, handler: { sampled: 0, seconds: 0 },
    times: { buckets: BUCKETS, counts: [n, n], count: n, sum: n / 100 },
    ...(pubsub ? { pubsub } : {}),
  };
}

const ps = (channels: number, patterns: number, subscribers: number, published: number, delivered: number, dropped: number) =>
  ({ channels, patterns, subscribers, published, delivered, dropped });

test('pushes and channel messages are summed over the live workers and those retired, so they never go back', (t) => {
  const totals = new ServerTotals(BUCKETS);
  const a = { id: 1, pid: 11, stats: stats(1, ps(2, 1, 3, 5, 12, 1), 1) };
  const b = { id: 2, pid: 12, stats: stats(2, ps(1, 0, 1, 7, 7, 0)) };
  const both = totals.sum([a, b]);
  t.like(both, { pushes: 300, published: 12, delivered: 19, dropped: 1, requests: 30 });
  t.is(both.closed.slow_consumer, 1);

  // Worker 1 exits with a little more than it last reported live; its replacement starts from 0.
  totals.retire(stats(1.5, ps(0, 0, 0, 6, 14, 2), 2));
  const fresh = { id: 1, pid: 13, stats: stats(0, ps(0, 0, 0, 0, 0, 0)) };
  const after = totals.sum([fresh, b]);
  t.like(after, { pushes: 350, published: 13, delivered: 21, dropped: 2 });
  t.is(after.closed.slow_consumer, 2);
  for (const k of ['pushes', 'published', 'delivered', 'dropped'] as const) t.true(after[k] >= both[k], k);

  // A worker without channels (no pubsub in its stats) adds its pushes, and nothing to the channels' counts.
  t.like(totals.sum([{ id: 1, pid: 13, stats: stats(1) }]), { pushes: 250, published: 6, delivered: 14, dropped: 2 });
});

const entry = (id: number, s: StatsSnapshot | undefined): WorkerInfo => ({
  server: 'chat', id, pid: 10 + id, uptime: 1, state: s ? 'running' : 'booting', ...(s ? { stats: s, memory: 1 << 20 } : {}),
});

test('channels, patterns and subscribers now are summed over the workers that answered', (t) => {
  const g = gaugesOf([entry(1, stats(1, ps(2, 1, 3, 5, 5, 0))), entry(2, stats(2, ps(1, 0, 4, 0, 0, 0))), entry(3, undefined), entry(4, stats(1))]);
  t.deepEqual(g.pubsub, { channels: 3, patterns: 1, subscribers: 7 });
  t.is(g.workers.length, 3);
});

test('the scrape\'s text has the pub/sub counters and gauges of each server, slow consumers among the close reasons', async (t) => {
  const totals = new ServerTotals(BUCKETS);
  totals.retire(stats(1, ps(0, 0, 0, 4, 9, 1), 1));
  const live = [{ id: 1, pid: 12, stats: stats(1, ps(2, 1, 3, 1, 2, 0)) }];
  const registry = figuresRegistry([{
    server: 'chat', totals: totals.sum(live), buckets: BUCKETS, active: 1, pubsub: gaugesOf(live.map((w) => entry(w.id, w.stats))).pubsub,
    alive: 1, restarts: { crash: 0, timeout: 0, max_requests: 0, reload: 0 }, workers: [],
  }]);
  const text = await registry.metrics();
  for (const line of [
    'socketserver_pushes_total{server="chat"} 200',
    'socketserver_pubsub_published_total{server="chat"} 5',
    'socketserver_pubsub_delivered_total{server="chat"} 11',
    'socketserver_pubsub_dropped_total{server="chat"} 1',
    'socketserver_pubsub_channels{server="chat"} 2',
    'socketserver_pubsub_patterns{server="chat"} 1',
    'socketserver_pubsub_subscribers{server="chat"} 3',
    'socketserver_connections_closed_total{server="chat",reason="slow_consumer"} 1',
    '# TYPE socketserver_pubsub_published_total counter',
    '# TYPE socketserver_pubsub_subscribers gauge',
  ]) t.true(text.split('\n').includes(line), line);
});
