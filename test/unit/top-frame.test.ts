import test from 'ava';
import type * as TopFrame from '../../cli/src/commands/top-frame.js';

// The cli package exports only its command: the renderer is loaded from its build, as the tests run `ss` from there.
const { duration, frame } = await import(new URL('../../../cli/dist/commands/top-frame.js', import.meta.url).href) as typeof TopFrame;

const worker = (id: number, pid: number, requests: number, hooks: Record<string, unknown> = {}, handler = { sampled: 0, seconds: 0 }) => ({
  server: 'line', id, pid, uptime: 65, state: 'running', requests, connections: { active: id, received: requests },
  memory: 64 * 2 ** 20, stats: { handler }, hooks,
});
const doc = (workers: unknown[], restarts = { crash: 0, timeout: 0, max_requests: 0, reload: 0 }) => ({
  arbiter: { pid: 100, name: 'line', uptime: 3725, version: '1.2.3', state: 'running' },
  monitors: [{ name: 'line', addresses: ['127.0.0.1:7000'], workers: { wanted: 2, alive: 2 }, restarts }],
  workers,
});

test('rates are the growth of requests per second, per worker by pid, with totals', (t) => {
  const prev = doc([worker(1, 11, 100), worker(2, 12, 50)]);
  const cur = doc([worker(1, 11, 300), worker(2, 12, 50)], { crash: 1, timeout: 0, max_requests: 0, reload: 2 });
  const lines = frame({ cur, prev, seconds: 2 }, { width: 80, interval: 1 });
  t.deepEqual(lines.slice(0, 8), [
    'ss top  pid 100  line  running  up 1h02m  version 1.2.3  every 1s',
    '',
    'server line  127.0.0.1:7000  workers 2/2  restarts 3 (crash 1, reload 2)',
    '  WORKER     PID  STATE             UP     REQ/S  ACTIVE      MEMORY',
    '  1           11  running        1m05s     100.0       1    64.0 MiB',
    '  2           12  running        1m05s       0.0       2    64.0 MiB',
    '  total                                    100.0       3   128.0 MiB',
    '',
  ]);
});

test('a worker not in the previous document (a new pid) has no rate yet; the first frame has none at all', (t) => {
  const lines = frame({ cur: doc([worker(1, 13, 40), worker(2, 12, 60)]), prev: doc([worker(1, 11, 30), worker(2, 12, 50)]), seconds: 1 }, { width: 80, interval: 1 });
  t.true(lines.includes('  1           13  running        1m05s         -       1    64.0 MiB'), lines.join('\n'));
  t.true(lines.includes('  total                                     10.0       3   128.0 MiB'));
  const first = frame({ cur: doc([worker(1, 11, 30)]), seconds: 0 }, { width: 80, interval: 2 });
  t.true(first.includes('  1           11  running        1m05s         -       1    64.0 MiB'));
  t.is(first.at(-1), '(rates and means after 2s)');
});

/** A hook's counters as a worker reports them: calls, and `sampled` of them timed at `us` µs each. */
const tap = (calls: number, sampled: number, us: number) => ({ calls, sampled, seconds: (sampled * us) / 1e6, meanUs: null });
const table = (lines: string[]) => lines.slice(lines.indexOf('  PLUGIN                   HOOK                  CALLS/S    MEAN µs') + 1);

test('hook times: calls summed across workers, the mean of the calls timed since the last reading, the slowest first, then the handler', (t) => {
  const prev = doc([
    worker(1, 11, 0, { fast: { preRequest: tap(0, 0, 0) }, slow: { preRequest: tap(0, 0, 0) } }),
    worker(2, 12, 0, { slow: { preRequest: tap(0, 0, 0) } }),
  ]);
  const cur = doc([
    worker(1, 11, 300, { fast: { preRequest: tap(300, 4, 1) }, slow: { preRequest: tap(300, 4, 40) } }, { sampled: 2, seconds: 0.00001 }),
    worker(2, 12, 100, { slow: { preRequest: tap(100, 4, 60), connectionMade: tap(4, 0, 0) } }, { sampled: 2, seconds: 0.00003 }),
  ]);
  t.deepEqual(table(frame({ cur, prev, seconds: 1 }, { width: 80, interval: 1 })), [
    '  slow                     preRequest              400.0       50.0',
    '  fast                     preRequest              300.0        1.0',
    '  slow                     connectionMade            4.0          -',
    '  (handler)                request                 400.0       10.0',
  ]);
});

test('hook times are of the last interval, not since start: a tap that turned slow shows slow, one that turned fast shows fast', (t) => {
  // 1000 calls timed at 2 µs, then 10 more at 500 µs (slowed) or the other way round (sped up).
  const slowed = frame({
    prev: doc([worker(1, 11, 64000, { p: { preRequest: tap(64000, 1000, 2) } }, { sampled: 1000, seconds: 0.002 })]),
    cur: doc([worker(1, 11, 64640, { p: { preRequest: { calls: 64640, sampled: 1010, seconds: 0.002 + 0.005, meanUs: 6.9 } } }, { sampled: 1010, seconds: 0.002 + 0.005 })]),
    seconds: 1,
  }, { width: 80, interval: 1 });
  t.deepEqual(table(slowed), [
    '  p                        preRequest              640.0      500.0',
    '  (handler)                request                 640.0      500.0',
  ]);
  const spedUp = frame({
    prev: doc([worker(1, 11, 640, { p: { preRequest: tap(640, 10, 500) } })]),
    cur: doc([worker(1, 11, 64640, { p: { preRequest: { calls: 64640, sampled: 1010, seconds: 0.005 + 0.002, meanUs: 6.9 } } })]),
    seconds: 1,
  }, { width: 80, interval: 1 });
  t.deepEqual(table(spedUp), [
    '  p                        preRequest            64000.0        2.0',
    '  (handler)                request               64000.0          -',
  ], 'nothing timed in the interval: no mean');
});

test('hook times of a worker the last reading did not have (new or restarted) count from its start; the first frame has no means', (t) => {
  const prev = doc([
    worker(1, 11, 6400, { p: { preRequest: tap(6400, 100, 500) } }, { sampled: 100, seconds: 0.05 }),
    worker(2, 12, 0, { p: { preRequest: tap(0, 0, 0) } }),
  ]);
  // Worker 1 was replaced by pid 13: all it timed is since the last reading (and no rate yet); pid 12 timed 4 calls.
  const cur = doc([
    worker(1, 13, 640, { p: { preRequest: tap(640, 10, 5) } }, { sampled: 10, seconds: 0.00005 }),
    worker(2, 12, 256, { p: { preRequest: tap(256, 4, 5) } }),
  ]);
  t.deepEqual(table(frame({ cur, prev, seconds: 1 }, { width: 80, interval: 1 })), [
    '  p                        preRequest              256.0        5.0',
    '  (handler)                request                 256.0        5.0',
  ]);
  const first = frame({ cur, seconds: 0 }, { width: 80, interval: 2 });
  t.deepEqual(table(first), [
    '  p                        preRequest                  -          -',
    '  (handler)                request                     -          -',
    '',
    '(rates and means after 2s)',
  ]);
});

test('every line fits the width, is cut rather than wrapped, and shows controls from the document escaped', (t) => {
  const cur = doc([worker(1, 11, 5, { ['a-plugin-with-a-very-long-name\x1b[2J']: { preRequest: tap(1, 0, 0) } })]);
  cur.monitors[0]!.addresses = Array.from({ length: 20 }, (_, i) => `127.0.0.1:${7000 + i}`);
  (cur.arbiter as Record<string, unknown>).name = 'evil\x1b]0;title\x07';
  for (const width of [80, 40]) {
    const lines = frame({ cur, seconds: 0 }, { width, interval: 1 });
    for (const l of lines) t.true(l.length <= width, l);
    t.false(lines.some((l) => /[\x00-\x1f\x7f-\x9f]/.test(l)));
  }
  const lines = frame({ cur, seconds: 0 }, { width: 80, interval: 1 });
  t.true(lines[0]!.includes('evil\\u001b]0;title\\u0007'));
  t.true(lines.some((l) => l.startsWith('  a-plugin-with-a-very-lo… preRequest')), lines.join('\n'));
  t.is(frame({ cur, seconds: 0 }, { width: 80, height: 5, interval: 1 }).length, 5, 'cut to the screen\'s rows');
});

test('a document of the wrong shape shows as missing figures rather than failing', (t) => {
  const lines = frame({ cur: { arbiter: 'x', monitors: [{ name: 'line', workers: null }], workers: [{ server: 'line', id: 1, state: 'booting' }, 7] }, prev: { workers: 'no' }, seconds: 1 }, { width: 80, interval: 1 });
  t.is(lines[0], 'ss top  pid -    -  up -  version -  every 1s');
  t.true(lines.includes('  1            -  booting            -         -       -           -'), lines.join('\n'));
});

test('uptimes in the width of a column', (t) => {
  t.deepEqual([0, 12.7, 247, 7500, 3 * 86400 + 4 * 3600 + 5, undefined, NaN].map(duration), ['0s', '12s', '4m07s', '2h05m', '3d04h', '-', '-']);
});

/** A worker that pushed `pushes` times and holds channels: `pubsub` as its stats carry it, `slow` closed as slow consumers. */
const chatter = (id: number, pid: number, pushes: number, pubsub: Record<string, number>, slow = 0) => {
  const w = worker(id, pid, 0);
  return { ...w, stats: { ...w.stats, pushes, pubsub, connections: { closed: { slow_consumer: slow } } } };
};
const ps = (channels: number, patterns: number, subscribers: number, published: number, delivered: number, dropped: number) =>
  ({ channels, patterns, subscribers, published, delivered, dropped });
const PUBSUB_HEAD = '  CHANNELS  PATTERNS  SUBSCRIBERS     PUB/S   DELIV/S    PUSH/S  DROPPED  SLOW';

test('pub/sub: channels, patterns and subscribers summed over the workers, messages and pushes per second, drops and slow consumers', (t) => {
  const prev = doc([chatter(1, 11, 100, ps(2, 1, 3, 10, 30, 0)), chatter(2, 12, 0, ps(0, 0, 0, 0, 0, 0))]);
  const cur = doc([chatter(1, 11, 160, ps(2, 1, 4, 30, 80, 1), 1), chatter(2, 12, 10, ps(1, 0, 2, 10, 10, 0))]);
  const lines = frame({ cur, prev, seconds: 2 }, { width: 80, interval: 1 });
  const at = lines.indexOf(PUBSUB_HEAD);
  t.true(at > lines.findIndex((l) => l.startsWith('  total')), lines.join('\n'));
  t.is(lines[at - 1], '');
  t.is(lines[at + 1], '         3         1            6      15.0      30.0      35.0        1     1');
  t.true(lines.every((l) => l.length <= 80));

  // The first frame: no rates yet; a new pid counts from the next one.
  const first = frame({ cur, seconds: 0 }, { width: 80, interval: 1 });
  t.is(first[first.indexOf(PUBSUB_HEAD) + 1], '         3         1            6         -         -         -        1     1');
  const replaced = frame({ cur, prev: doc([chatter(1, 13, 100, ps(2, 1, 3, 10, 30, 0))]), seconds: 2 }, { width: 80, interval: 1 });
  t.is(replaced[replaced.indexOf(PUBSUB_HEAD) + 1], '         3         1            6         -         -         -        1     1');
});

test('pub/sub: no such lines for a server that has neither pushed nor held a channel, nor for a document without the figures', (t) => {
  const idle = doc([chatter(1, 11, 0, ps(0, 0, 0, 0, 0, 0)), worker(2, 12, 5)]);
  t.false(frame({ cur: idle, prev: idle, seconds: 1 }, { width: 80, interval: 1 }).includes(PUBSUB_HEAD));
  t.false(frame({ cur: doc([worker(1, 11, 5)]), seconds: 0 }, { width: 80, interval: 1 }).includes(PUBSUB_HEAD));
  // Pushes alone (connection.send, no channel) show them.
  const pushing = doc([chatter(1, 11, 5, ps(0, 0, 0, 0, 0, 0)), worker(2, 12, 5)]);
  const lines = frame({ cur: pushing, prev: idle, seconds: 1 }, { width: 80, interval: 1 });
  t.is(lines[lines.indexOf(PUBSUB_HEAD) + 1], '         0         0            0       0.0       0.0       5.0        0     0');
});
