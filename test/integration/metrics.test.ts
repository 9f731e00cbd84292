import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { ask, Client } from '../helpers/client.js';
import { eventually, isAlive, launchSs, runSs, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { metricsUrl, scrape, scrapeUntil, unlabelled, value, type Sample } from '../helpers/metrics.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { PID_HANDLER, readyPids } from '../helpers/workers.js';

// The metrics plugin through the real ss: GET /metrics from the arbiter, every worker's figures.

const METRICS = ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0'];

/** `conns` connections, each sending `each` lines of 8 bytes (7 characters and \n) and closing once answered. */
async function load(port: number, conns: number, each: number): Promise<void> {
  await Promise.all(Array.from({ length: conns }, async (_, i) => {
    const c = await Client.open(port);
    const lines = Array.from({ length: each }, (_, j) => `c${String(i).padStart(3, '0')}-${String(j).padStart(2, '0')}`);
    c.send(lines.map((l) => `${l}\n`).join(''));
    const got = await c.lines(each, 20_000);
    if (got.join() !== lines.join()) throw new Error(`connection ${i}: wrong replies`);
    c.end();
    await c.waitClose(10_000);
  }));
}

test('workers 2: 1000 requests over 50 connections, then exact totals; a worker that does not answer keeps its figures and does not stop a scrape', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '2', '--timeout', '120']);
  const url = await metricsUrl(ss);
  await load(ss.port, 50, 20);

  // Closes are counted when the server sees them: wait for the 50th.
  const s = await scrapeUntil(url, (got) => value(got, 'socketserver_connections_closed_total', { reason: 'clean' }) === 50, '50 clean closes', 20_000);
  const srv = { server: 'line' };
  t.is(value(s, 'socketserver_requests_total', srv), 1000);
  t.is(value(s, 'socketserver_connections_accepted_total', srv), 50);
  t.is(value(s, 'socketserver_connections_active', srv), 0);
  for (const reason of ['idle', 'bad_input', 'handler_error', 'reset', 'shutdown', 'refused']) {
    t.is(value(s, 'socketserver_connections_closed_total', { ...srv, reason }), 0, reason);
  }
  t.is(value(s, 'socketserver_bytes_received_total', srv), 8000);
  t.is(value(s, 'socketserver_bytes_sent_total', srv), 8000);
  t.is(value(s, 'socketserver_workers', srv), 2);
  t.is(value(s, 'socketserver_request_duration_seconds_count', srv), 1000);
  t.is(value(s, 'socketserver_request_duration_seconds_bucket', { ...srv, le: '+Inf' }), 1000);
  const buckets = s.filter((x) => x.name === 'socketserver_request_duration_seconds_bucket');
  t.is(buckets.length, 12, 'eleven bounds and +Inf');
  t.true(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value), 'cumulative');
  t.true(value(s, 'socketserver_request_duration_seconds_sum', srv)! > 0);
  t.deepEqual(['crash', 'timeout', 'max_requests', 'reload'].map((reason) => value(s, 'socketserver_worker_restarts_total', { ...srv, reason })), [0, 0, 0, 0]);

  // Per worker: memory, labelled by worker and pid, as ss info lists them.
  const pids = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => w.pid).sort();
  const memory = s.filter((x) => x.name === 'socketserver_worker_resident_memory_bytes');
  t.deepEqual(memory.map((m) => Number(m.labels.pid)).sort(), pids);
  t.true(memory.every((m) => m.value > 1e6));
  // Process figures: the arbiter's own, and the workers' summed; every series names its server.
  t.true(value(s, 'process_resident_memory_bytes', { server: 'line', process: 'arbiter' })! > 1e6);
  t.true(value(s, 'process_resident_memory_bytes', { server: 'line', process: 'workers' })! > 1e6);
  t.deepEqual(unlabelled(s), []);

  // A worker that does not answer: the scrape still answers, with its last figures.
  const [victim] = pids;
  process.kill(victim, 'SIGSTOP');
  t.teardown(() => { try { process.kill(victim, 'SIGCONT'); } catch { /* gone */ } });
  await sleep(1100); // the text of the last scrape serves for a second
  const stopped = await scrape(url);
  t.is(value(stopped, 'socketserver_requests_total', srv), 1000);
  t.is(value(stopped, 'socketserver_worker_resident_memory_bytes', { pid: String(victim) }), undefined);
  t.truthy(value(stopped, 'socketserver_worker_resident_memory_bytes', { pid: String(pids[1]) }));

  // Going on again: it answers, and its figures are its own again.
  process.kill(victim, 'SIGCONT');
  const again = await scrapeUntil(url, (got) => value(got, 'socketserver_worker_resident_memory_bytes', { pid: String(victim) }) !== undefined,
    'the stopped worker answering again', 20_000);
  t.is(value(again, 'socketserver_requests_total', srv), 1000);
  t.is((await ss.stop()).code, 0);
});

const GATE_HANDLER = './test/fixtures/runtime/gate-handler.mjs';

/** Resolve once none of `pids` is alive (reaped by the arbiter). */
function gone(pids: number[], what: string): Promise<true> {
  return eventually(() => (pids.some(isAlive) ? undefined : true), what, 30_000);
}

/**
 * `n` connections, each with one request the gate handler holds ("wait:gNN", 9 bytes, answered
 * "gNN" once the gate file exists); `answered` reads each reply and closes.
 */
async function held(port: number, n: number): Promise<{ answered(): Promise<void> }> {
  const clients = await Promise.all(Array.from({ length: n }, () => Client.open(port)));
  clients.forEach((c, i) => c.send(`wait:g${String(i).padStart(2, '0')}\n`));
  return {
    answered: () => Promise.all(clients.map(async (c, i) => {
      const [reply] = await c.lines(1, 20_000);
      if (reply !== `g${String(i).padStart(2, '0')}`) throw new Error(`held connection ${i}: replied ${reply}`);
      c.end();
      await c.waitClose(10_000);
    })).then(() => {}),
  };
}

/**
 * Workers 2, no scrape before: 200 echoed requests over 20 connections, then 10 requests held on
 * connections of their own; `leave` makes some workers go (a signal), then the gate opens so
 * that the held requests end during the drain, the leavers exit, and one scrape follows.
 */
async function leaving(t: ExecutionContext, args: string[], leave: (ss: SsProcess) => Promise<number[]>): Promise<{ s: Sample[]; ss: SsProcess }> {
  const gate = join(tempDir(t, 'metrics-gate'), 'open');
  const ss = await startSs(t, [...METRICS, '--workers', '2', '--handler', GATE_HANDLER, ...args], { env: { GATE_FILE: gate } });
  const url = await metricsUrl(ss);
  await load(ss.port, 20, 10);
  const requests = await held(ss.port, 10);
  const leavers = await leave(ss);
  t.true(leavers.some(isAlive), 'a leaving worker waits for the requests it holds');
  writeFileSync(gate, '');
  await requests.answered();
  await gone(leavers, 'the leaving workers to exit');
  const s = await scrape(url);
  const srv = { server: 'line' };
  // Everything, exactly: the held requests ended during the drain, and no scrape came before.
  t.is(value(s, 'socketserver_requests_total', srv), 210);
  t.is(value(s, 'socketserver_request_duration_seconds_count', srv), 210);
  t.is(value(s, 'socketserver_connections_accepted_total', srv), 30);
  t.is(s.filter((x) => x.name === 'socketserver_connections_closed_total').reduce((sum, x) => sum + x.value, 0), 30);
  t.is(value(s, 'socketserver_bytes_received_total', srv), 200 * 8 + 10 * 9);
  t.is(value(s, 'socketserver_bytes_sent_total', srv), 200 * 8 + 10 * 4);
  return { s, ss };
}

test('HUP with no scrape before: every request the old workers served counts, those ended during their drain too', async (t) => {
  // Both old workers leave: those holding held requests (the kernel spreads connections) wait for them.
  const { s, ss } = await leaving(t, [], async (ss) => {
    const old = readyPids(ss);
    process.kill(ss.pid, 'SIGHUP');
    await ss.waitForLog((l) => l.msg.endsWith('reloaded, every worker runs the new config'), 30_000);
    return old;
  });
  t.is(value(s, 'socketserver_worker_restarts_total', { server: 'line', reason: 'reload' }), 2);
  t.is(value(s, 'socketserver_workers', { server: 'line' }), 2);
  t.is((await ss.stop()).code, 0);
});

test('TTOU with no scrape before: every request the worker let go served counts, those ended during its drain too', async (t) => {
  // Round-robin: the arbiter deals connections in turn, so worker 2 surely holds some of the held requests.
  const { s, ss } = await leaving(t, ['--balance', 'round-robin'], async (ss) => {
    process.kill(ss.pid, 'SIGTTOU');
    await ss.waitForLog((l) => l.msg === 'SIGTTOU: one worker fewer', 20_000);
    return readyPids(ss, 2);
  });
  t.deepEqual(['crash', 'timeout', 'max_requests', 'reload'].map((reason) => value(s, 'socketserver_worker_restarts_total', { server: 'line', reason })), [0, 0, 0, 0]);
  t.is(value(s, 'socketserver_workers', { server: 'line' }), 1);
  t.is((await ss.stop()).code, 0);
});

test('max_requests with no scrape before: the requests of every worker replaced count', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1', '--max-requests', '40']);
  const url = await metricsUrl(ss);
  const replacing = () => ss.logs.filter((l) => l.msg.endsWith('(max_requests): replacing it')).map((l) => l.workerPid as number);
  // One request per connection, one after the other (none is cut short by a replacement),
  // until two workers were replaced: the one retiring serves on until the next is ready.
  let asked = 0;
  while (replacing().length < 2 && asked < 2000) {
    t.is(await ask(ss.port, `r${asked}`, 10_000), `r${asked}`);
    asked++;
  }
  const replaced = replacing();
  t.is(replaced.length, 2, `after ${asked} requests`);
  await gone(replaced, 'the replaced workers to exit');
  const s = await scrape(url);
  const srv = { server: 'line' };
  t.is(value(s, 'socketserver_requests_total', srv), asked);
  t.is(value(s, 'socketserver_request_duration_seconds_count', srv), asked);
  t.is(value(s, 'socketserver_connections_accepted_total', srv), asked);
  t.is(value(s, 'socketserver_worker_restarts_total', { ...srv, reason: 'max_requests' }), 2);
  t.is((await ss.stop()).code, 0);
});

test('workers killed (SIGKILL) with no scrape before keep the requests they served more than a second before', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '2', '--timeout', '120']);
  const url = await metricsUrl(ss);
  await load(ss.port, 20, 10);
  // Workers send their counters every second: three seconds leave room on a busy machine.
  await sleep(3000);
  const pids = readyPids(ss);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await gone(pids, 'the killed workers to be reaped');
  const srv = { server: 'line' };
  const s = await scrapeUntil(url, (got) => value(got, 'socketserver_worker_restarts_total', { ...srv, reason: 'crash' }) === 2 &&
    value(got, 'socketserver_workers', srv) === 2, 'both crashes counted and two new workers', 30_000);
  t.is(value(s, 'socketserver_requests_total', srv), 200);
  t.is(value(s, 'socketserver_request_duration_seconds_count', srv), 200);
  t.is(value(s, 'socketserver_connections_accepted_total', srv), 20);
  t.is(value(s, 'socketserver_connections_closed_total', { ...srv, reason: 'clean' }), 20);
  t.is(value(s, 'socketserver_bytes_received_total', srv), 1600);
  // The new workers' requests add to them.
  for (let i = 0; i < 10; i++) t.is(await ask(ss.port, `more-${i}`), `more-${i}`);
  const more = await scrapeUntil(url, (got) => value(got, 'socketserver_requests_total', srv) === 210, '210 requests', 20_000);
  t.is(value(more, 'socketserver_request_duration_seconds_count', srv), 210);
  t.is((await ss.stop()).code, 0);
});

test('close reasons idle, reset and shutdown, and a restart for --timeout, as /metrics counts them', async (t) => {
  // round-robin: connections alternate between the two workers, so the one TTOU stops holds some.
  const ss = await startSs(t, [...METRICS, '--workers', '2', '--balance', 'round-robin', '--keep-alive', '3', '--timeout', '2',
    '--handler', PID_HANDLER]);
  const url = await metricsUrl(ss);
  const srv = { server: 'line' };
  const idle = await Client.open(ss.port); // says nothing: closed after --keep-alive
  t.teardown(() => idle.destroy());
  const reset = await Client.open(ss.port);
  reset.send('bye\n');
  t.deepEqual(await reset.lines(1), ['bye']);
  reset.socket.resetAndDestroy(); // an RST: the server reads ECONNRESET
  await idle.waitClose(15_000);
  // Held open (answered, so not idle yet) while TTOU stops one worker: its share is closed by the stop.
  const held = await Promise.all(Array.from({ length: 4 }, () => Client.open(ss.port)));
  t.teardown(() => { for (const c of held) c.destroy(); });
  for (const [i, c] of held.entries()) {
    c.send(`held-${i}\n`);
    t.deepEqual(await c.lines(1), [`held-${i}`]);
  }
  process.kill(ss.pid, 'SIGTTOU');
  await eventually(async () => ((await ssInfo(ss.pid)).workers.length === 1 ? true : undefined), 'one worker left after TTOU', 15_000);
  // A worker whose event loop is stuck is killed after --timeout and replaced.
  const stuck = await Client.open(ss.port);
  t.teardown(() => stuck.destroy());
  stuck.send('block\n');
  const s = await scrapeUntil(url, (got) => (value(got, 'socketserver_connections_closed_total', { ...srv, reason: 'idle' }) ?? 0) >= 1 &&
    (value(got, 'socketserver_connections_closed_total', { ...srv, reason: 'reset' }) ?? 0) >= 1 &&
    (value(got, 'socketserver_connections_closed_total', { ...srv, reason: 'shutdown' }) ?? 0) >= 1 &&
    value(got, 'socketserver_worker_restarts_total', { ...srv, reason: 'timeout' }) === 1 &&
    value(got, 'socketserver_workers', srv) === 1, 'idle, reset and shutdown closes, and a timeout restart', 30_000);
  t.is(value(s, 'socketserver_worker_restarts_total', { ...srv, reason: 'crash' }), 0);
});

test('workers 0: the one process serves /metrics; another path is 404, another method 405', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '0']);
  const url = await metricsUrl(ss);
  for (let i = 0; i < 10; i++) t.is(await ask(ss.port, `r${i}`), `r${i}`);
  const s = await scrapeUntil(url, (got) => value(got, 'socketserver_connections_closed_total', { reason: 'clean' }) === 10, '10 closes', 20_000);
  t.is(value(s, 'socketserver_requests_total', { server: 'line' }), 10);
  t.is(value(s, 'socketserver_request_duration_seconds_count', { server: 'line' }), 10);
  t.is(value(s, 'socketserver_workers', { server: 'line' }), 0);
  t.truthy(value(s, 'process_resident_memory_bytes', { server: 'line', process: 'arbiter' }));
  t.deepEqual(unlabelled(s), []);

  const ok = await fetch(url);
  t.is(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  await ok.text();
  const other = await fetch(url.replace(/\/metrics$/, '/other'));
  t.is(other.status, 404);
  await other.text();
  const post = await fetch(url, { method: 'POST', body: 'x' });
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET, HEAD');
  await post.text();
  // Headers beyond the cap are refused, and the endpoint serves on.
  const big = await fetch(url, { headers: { 'x-big': 'a'.repeat(20_000) } });
  t.is(big.status, 431);
  await big.text();
  t.is(value(await scrape(url), 'socketserver_requests_total', { server: 'line' }), 10);
  t.is((await ss.stop()).code, 0);
});

test('two servers in one config with the same --metrics-bind share one endpoint, each labelled by server', async (t) => {
  const dir = tempDir(t, 'metrics-servers');
  writeFileSync(join(dir, 'socketserver.config.mjs'), `export default {
  servers: {
    a: { plugins: ['line', ['metrics', { metricsBind: '127.0.0.1:0' }]], bind: '127.0.0.1:0', workers: 1 },
    b: { plugins: ['line', ['metrics', { metricsBind: '127.0.0.1:0' }]], bind: '127.0.0.1:0', workers: 1 },
  },
};
`);
  const ss = launchSs(t, ['serve'], { cwd: dir });
  await ss.waitForLog((l) => l.msg.startsWith('serving a'), 20_000);
  await ss.waitForLog((l) => l.msg.startsWith('serving b'), 20_000);
  const url = await metricsUrl(ss, 'a');
  t.is(await metricsUrl(ss, 'b'), url);
  const port = (name: string) => Number((ss.logs.find((l) => l.name === name && l.msg.startsWith('listening on'))!.address as string).split(':')[1]);
  t.is(await ask(port('a'), 'one'), 'one');
  for (let i = 0; i < 3; i++) t.is(await ask(port('b'), `two${i}`), `two${i}`);
  const s = await scrapeUntil(url, (got) => value(got, 'socketserver_requests_total', { server: 'b' }) === 3, 'b\'s 3 requests', 20_000);
  t.is(value(s, 'socketserver_requests_total', { server: 'a' }), 1);
  t.is(value(s, 'socketserver_workers', { server: 'a' }), 1);
  t.is(value(s, 'socketserver_workers', { server: 'b' }), 1);
  t.truthy(value(s, 'process_resident_memory_bytes', { server: 'a', process: 'workers' }));
  t.truthy(value(s, 'process_resident_memory_bytes', { server: 'b', process: 'workers' }));
  // The arbiter serves both: its figures under each server's name, the same.
  const arbiter = value(s, 'process_resident_memory_bytes', { server: 'a', process: 'arbiter' });
  t.true(arbiter! > 1e6);
  t.is(value(s, 'process_resident_memory_bytes', { server: 'b', process: 'arbiter' }), arbiter);
  t.is(value(s, 'nodejs_heap_size_total_bytes', { server: 'b', process: 'arbiter' }), value(s, 'nodejs_heap_size_total_bytes', { server: 'a', process: 'arbiter' }));
  t.deepEqual(unlabelled(s), []);
  t.is((await ss.stop()).code, 0);
});

test('--metrics-bind: a bad value exits 2 naming it; the default is loopback', async (t) => {
  for (const bad of ['nowhere:port', '127.0.0.1', 'fd://3', '127.0.0.1:70000']) {
    const r = await runSs(['serve', '--plugin', 'line', '--plugin', 'metrics', '--bind', '127.0.0.1:0', '--metrics-bind', bad]);
    assertOneLineError(t, r, 2, ['--metrics-bind', bad]);
  }
  const config = await runSs(['config', '--plugin', 'line', '--plugin', 'metrics']);
  t.is(config.code, 0, config.stderr);
  t.regex(config.stdout, /^metricsBind\s+127\.0\.0\.1:9464\s+default\s+metrics$/m);
  const help = await runSs(['serve', '--help', '--plugin', 'line', '--plugin', 'metrics']);
  t.regex(help.stdout + help.stderr, /--metrics-bind .*default 127\.0\.0\.1:9464/);
});

test('--metrics-bind on an address in use: start-up fails, exit 1, naming --metrics-bind', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  for (const workers of ['1', '0']) {
    const r = await runSs(['serve', '--plugin', 'line', '--plugin', 'metrics', '--bind', '127.0.0.1:0', '--workers', workers, '--metrics-bind', `127.0.0.1:${port}`]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`^ss: --metrics-bind 127\\.0\\.0\\.1:${port}: address in use$`, 'm'));
  }
});

test('SIGTERM: the arbiter exits promptly though scrapers hold connections to the endpoint', async (t) => {
  const ss = await startSs(t, [...METRICS, '--workers', '1']);
  const url = new URL(await metricsUrl(ss));
  t.is((await scrape(url.href)).length > 0, true);
  // One connection idle after a keep-alive request, one that never sends a whole request.
  const open = (): Promise<Socket> => new Promise((resolve, reject) => {
    const s = connect(Number(url.port), '127.0.0.1', () => resolve(s)).once('error', reject);
  });
  const kept = await open();
  kept.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => kept.once('data', resolve));
  const partial = await open();
  partial.write('GET /metr');
  t.teardown(() => { kept.destroy(); partial.destroy(); });
  const started = Date.now();
  const exit = await ss.stop('SIGTERM', 30_000);
  t.is(exit.code, 0);
  t.true(Date.now() - started < 8000, `exited after ${Date.now() - started} ms`);
});

test('a request whose handler throws or rejects is in the duration histogram as in requests_total', async (t) => {
  // sync-handler.mjs throws on "boom"; handler.ts (async) rejects on "boom" and answers "slow:MS:TEXT" late.
  const handlers = [['./test/fixtures/runtime/sync-handler.mjs', '1'], ['./test/fixtures/runtime/handler.ts', '0']] as const;
  for (const [handler, workers] of handlers) {
    const ss = await startSs(t, [...METRICS, '--workers', workers, '--max-line', '64', '--handler', handler]);
    const url = await metricsUrl(ss);
    const srv = { server: 'line' };
    for (let i = 0; i < 10; i++) t.is((await ask(ss.port, `ok${i}`)).toLowerCase(), `ok${i}`);
    /** Send `data` and wait for the server to close the connection. */
    const closing = async (data: string) => {
      const c = await Client.open(ss.port);
      c.send(data);
      await c.waitClose(10_000);
    };
    for (let i = 0; i < 3; i++) await closing('boom\n');
    // The requests before a failure in the same read were answered; those before bad input too.
    await closing('a1\na2\nboom\nafter\n');
    await closing(`b1\nb2\n${'z'.repeat(100)}`);
    // Async: a request still running when another on its connection fails is timed when it ends.
    const async = handler.endsWith('.ts');
    if (async) await closing('slow:300:late\nboom\n');
    const failed = 4 + (async ? 1 : 0);
    const settled = (got: Sample[]) => value(got, 'socketserver_connections_closed_total', { ...srv, reason: 'handler_error' }) === failed &&
      value(got, 'socketserver_connections_closed_total', { ...srv, reason: 'bad_input' }) === 1 &&
      value(got, 'socketserver_request_duration_seconds_count', srv) === value(got, 'socketserver_requests_total', srv);
    const s = await scrapeUntil(url, settled, `${handler}: ${failed} handler errors, 1 bad input, and as many requests timed as counted`, 20_000);
    const requests = value(s, 'socketserver_requests_total', srv)!;
    t.true(requests >= 10 + 3 + 3 + 2 + (async ? 2 : 0), `${handler}: ${requests} requests`);
    t.is(value(s, 'socketserver_request_duration_seconds_count', srv), requests, handler);
    t.is(value(s, 'socketserver_request_duration_seconds_bucket', { ...srv, le: '+Inf' }), requests, handler);
    t.is((await ss.stop()).code, 0);
  }
});
