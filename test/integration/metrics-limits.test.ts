import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { readyPids } from '../helpers/workers.js';
import { runSs, startSs, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// The /metrics endpoint's limits through the real ss: clients that hold connections without
// asking, and scrapes back to back.

const METRICS = ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0'];

async function metricsUrl(ss: SsProcess): Promise<URL> {
  const line = await ss.waitForLog((l) => typeof l.metrics === 'string', 20_000);
  return new URL(line.metrics as string);
}

/** A scrape: its status and how long it took, ms (throws if the connection fails). */
async function scrape(url: URL): Promise<{ status: number; ms: number; text: string }> {
  const started = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  return { status: res.status, ms: Date.now() - started, text };
}

/**
 * A scrape over a plain socket: `sent` resolves once the whole request is written (so the
 * endpoint has it, unlike a first fetch, which may still be loading its client), `status` with
 * the reply's status code.
 */
function sentScrape(t: ExecutionContext, url: URL): { sent: Promise<void>; status: Promise<number> } {
  const socket = connect(Number(url.port), url.hostname);
  t.teardown(() => socket.destroy());
  let got = '';
  socket.setEncoding('utf8').on('data', (d: string) => { got += d; });
  const status = new Promise<number>((resolve) => socket.once('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0))));
  socket.once('error', () => { /* a reset is a close too */ });
  const sent = new Promise<void>((resolve) => socket.once('connect', () => {
    socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`, () => resolve());
  }));
  return { sent, status };
}

interface Held {
  socket: Socket;
  /** What the server sent before it closed the connection, and when (ms after the connection opened). */
  closed: Promise<{ got: string; after: number }>;
}

/** `n` connections to the endpoint, each sending half a request line and holding; resolves once all are open. */
async function halfRequests(t: ExecutionContext, url: URL, n: number): Promise<Held[]> {
  const held = await Promise.all(Array.from({ length: n }, () => new Promise<Held>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const opened = Date.now();
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => { got += d; });
    const closed = new Promise<{ got: string; after: number }>((done) => socket.once('close', () => done({ got, after: Date.now() - opened })));
    socket.once('error', () => { /* a reset is a close too */ });
    socket.once('connect', () => {
      socket.write('GET /metr');
      resolve({ socket, closed });
    });
    socket.once('close', () => reject(new Error('closed before it connected')));
  })));
  t.teardown(() => { for (const h of held) h.socket.destroy(); });
  // Let the arbiter accept them all before anything else comes.
  await sleep(300);
  return held;
}

test('32 connections holding half a request: a scrape is answered at once', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1']);
  const url = await metricsUrl(ss);
  const held = await halfRequests(t, url, 32);
  const first = await scrape(url);
  t.is(first.status, 200);
  t.regex(first.text, /^socketserver_requests_total\{server="line"\} 0$/m);
  // At once: its connection took a slow one's place (10 s is room for a busy machine; nothing waits on a timeout).
  t.true(first.ms < 10_000, `answered after ${first.ms} ms`);
  // Room was made by closing the oldest of them at once, without a reply: 16 for the other 16, one for the scraper.
  const now = await Promise.all(held.map((h) => Promise.race([h.closed, sleep(1000).then(() => undefined)])));
  t.is(now.filter((c) => c?.got === '').length, 17, JSON.stringify(now));
  t.is((await ss.stop()).code, 0);
});

test('a scraper that keeps its connection between scrapes is not displaced by newcomers that never ask', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1']);
  const url = await metricsUrl(ss);
  const scraper = connect(Number(url.port), url.hostname);
  t.teardown(() => scraper.destroy());
  let got = '';
  scraper.setEncoding('utf8').on('data', (d: string) => { got += d; });
  const ask = async () => {
    got = '';
    scraper.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`); // kept alive
    for (let i = 0; i < 200 && !/\r\n\r\n[\s\S]*socketserver_requests_total/.test(got); i++) await sleep(50);
    return /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1];
  };
  await new Promise<void>((resolve) => scraper.once('connect', () => resolve()));
  t.is(await ask(), '200');
  // 40 newcomers holding half a request: each over the cap of 16 closes one that never asked.
  await halfRequests(t, url, 40);
  t.false(scraper.destroyed, 'the scraper\'s connection is still open');
  t.is(await ask(), '200', 'and scrapes on it go on');
});

test('connections holding half a request are closed after --metrics-header-timeout (5 s) with 408', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1']);
  const url = await metricsUrl(ss);
  // Fewer than the cap: none is closed to make room, each waits for its timeout.
  const held = await halfRequests(t, url, 12);
  const closed = await Promise.all(held.map((h) => h.closed));
  for (const c of closed) {
    t.regex(c.got, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    // 5 s, checked every second: closed between 5 and 6 s, given generous room on a busy machine.
    t.true(c.after >= 4500 && c.after < 12_000, `closed after ${c.after} ms`);
  }
  t.is((await scrape(url)).status, 200);

  // A shorter timeout is a setting.
  const quick = await startSs(t, [...METRICS, '--workers', '1', '--metrics-header-timeout', '1']);
  const quickUrl = await metricsUrl(quick);
  for (const c of await Promise.all((await halfRequests(t, quickUrl, 4)).map((h) => h.closed))) {
    t.regex(c.got, /^HTTP\/1\.1 408 /);
    t.true(c.after >= 900 && c.after < 6000, `closed after ${c.after} ms`);
  }
  await Promise.all([ss.stop(), quick.stop()]);
});

test('--metrics-max-connections 2: a newcomer while both are mid-scrape is closed at once; then scrapes go on', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1', '--metrics-max-connections', '2']);
  const url = await metricsUrl(ss);
  // A stopped worker makes a scrape wait (2 s) for its info.
  const [pid] = readyPids(ss);
  process.kill(pid!, 'SIGSTOP');
  t.teardown(() => { try { process.kill(pid!, 'SIGCONT'); } catch { /* gone */ } });
  const slow = [sentScrape(t, url), sentScrape(t, url)];
  await Promise.all(slow.map((s) => s.sent));
  await sleep(300);
  const [newcomer] = await halfRequests(t, url, 1);
  const closed = await newcomer!.closed;
  t.is(closed.got, '');
  t.true(closed.after < 1500, `closed after ${closed.after} ms`);
  t.deepEqual(await Promise.all(slow.map((s) => s.status)), [200, 200]);
  process.kill(pid!, 'SIGCONT');
  t.is((await scrape(url)).status, 200);
  t.is((await ss.stop()).code, 0);
});

/**
 * A hook plugin, written to `dir`: each worker's `info` (a scrape's collection asks every
 * worker for it) appends a line to `$INFO_COUNT_FILE`.
 */
function infoCounter(dir: string): { plugin: string; file: string; count(): number } {
  const plugin = join(dir, 'info-count.mjs');
  const file = join(dir, 'info-calls');
  writeFileSync(file, '');
  writeFileSync(plugin, `import { appendFileSync } from 'node:fs';
export default {
  name: 'info-count',
  apply(app) {
    app.hooks.info.tap('info-count', (info) => {
      if (!info.arbiter) appendFileSync(process.env.INFO_COUNT_FILE, process.pid + '\\n');
      return info;
    });
  },
};
`);
  return { plugin, file, count: () => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length };
}

test('50 scrapes back to back ask the workers once a second at most; concurrent scrapes share one collection', async (t) => {
  const counter = infoCounter(tempDir(t, 'metrics-cache'));
  const ss = await startSs(t, [...METRICS, '--workers', '1', '--plugin', counter.plugin], { env: { INFO_COUNT_FILE: counter.file } });
  const url = await metricsUrl(ss);
  t.is(readyPids(ss).length, 1);
  const before = counter.count();

  // One after the other, each on the same kept-alive connection as a scraper would.
  const started = Date.now();
  for (let i = 0; i < 50; i++) t.is((await scrape(url)).status, 200);
  const elapsed = Date.now() - started;
  const sequential = counter.count() - before;
  // One collection, then at most one more per second that went by.
  t.true(sequential >= 1 && sequential <= 1 + Math.ceil(elapsed / 1000), `${sequential} collections for 50 scrapes in ${elapsed} ms`);

  // The text is at most a second old: after that a scrape collects again.
  await sleep(1200);
  const stale = counter.count();
  await scrape(url);
  t.is(counter.count(), stale + 1);

  // 10 at once (within the connection cap), once the text is stale: one collection serves them all.
  await sleep(1200);
  const concurrentBefore = counter.count();
  const all = await Promise.all(Array.from({ length: 10 }, () => scrape(url)));
  t.true(all.every((r) => r.status === 200));
  t.true(new Set(all.map((r) => r.text)).size === 1, 'the same text');
  t.is(counter.count() - concurrentBefore, 1);
  t.is((await ss.stop()).code, 0);
});

test('--metrics-max-connections, --metrics-header-timeout: a bad value exits 2 naming it; the defaults', async (t) => {
  for (const [flag, bad] of [['--metrics-max-connections', '0'], ['--metrics-max-connections', 'many'], ['--metrics-header-timeout', '0'], ['--metrics-header-timeout', 'soon']]) {
    const r = await runSs(['serve', '--plugin', 'line', '--plugin', 'metrics', '--bind', '127.0.0.1:0', flag!, bad!]);
    assertOneLineError(t, r, 2, [flag!, bad!]);
  }
  const config = await runSs(['config', '--plugin', 'line', '--plugin', 'metrics']);
  t.is(config.code, 0, config.stderr);
  t.regex(config.stdout, /^metricsMaxConnections\s+16\s+default\s+metrics$/m);
  t.regex(config.stdout, /^metricsHeaderTimeout\s+5\s+default\s+metrics$/m);
});
