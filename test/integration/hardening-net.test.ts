import test, { type ExecutionContext } from 'ava';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { Client } from '../helpers/client.js';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs, startSs, type SsProcess } from '../helpers/ss.js';

const ODD = './test/fixtures/runtime/odd-reply-handler.mjs';
const MiB = 1024 * 1024;
const MAX_IN_FLIGHT = 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) * 1024;
}

/** `bystander` is still open and answered, so the process serving it did not go down. */
async function stillServed(t: ExecutionContext, bystander: Client, ping: string, reply: string): Promise<void> {
  t.false(bystander.closed, 'the other client of the worker is still connected');
  bystander.send(ping);
  t.is(String(await bystander.read(reply.length)), reply);
}

/** A fresh client sends `message`; it is closed and a log line names it and `reason`. */
async function closedWithLog(t: ExecutionContext, ss: SsProcess, message: string, reason: RegExp): Promise<void> {
  const c = await Client.open(ss.port);
  c.send(message);
  await c.waitClose();
  const line = await ss.waitForLog((l) => l.level >= 40 && l.peer === `127.0.0.1:${c.localPort}`);
  t.regex(line.msg, reason, message);
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): .*; closed$/);
}

test('echo, one worker: a handler returning null sends nothing, and no result or error of a handler takes the worker down', async (t) => {
  const ss = await startSs(['--plugin', 'echo', '--workers', '1', '--handler', ODD]);
  t.teardown(() => ss.stop());
  const bystander = await Client.open(ss.port);
  await stillServed(t, bystander, 'hello', 'hello');

  const c = await Client.open(ss.port);
  for (const none of ['null', 'async-null']) {
    c.send(none);
    await sleep(200); // a read of its own (echo: one read is one message)
  }
  c.send('after');
  t.is(String(await c.read(5)), 'after', 'null and a promise of null are no reply; the connection stays open');
  await stillServed(t, bystander, 'ping', 'ping');

  const notBytes = /cannot encode reply: protocol encode returned (a number|an object), not a string, Buffer or Uint8Array/;
  await closedWithLog(t, ss, 'number', notBytes);
  await closedWithLog(t, ss, 'object', notBytes);
  await closedWithLog(t, ss, 'async-number', notBytes);
  await closedWithLog(t, ss, 'throw-odd', /handler failed: /);
  await closedWithLog(t, ss, 'reject-odd', /handler failed: /);
  await closedWithLog(t, ss, 'bad-thenable', /handler failed: then getter exploded/);
  await stillServed(t, bystander, 'still', 'still');
  t.false(ss.logs.some((l) => /worker .*(exited|died|crashed)/i.test(l.msg)), 'no worker went down');
  c.destroy();
  bystander.destroy();
});

test('line (encodeInto), one worker: null is no reply; a reply it cannot encode closes that connection only', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '1', '--handler', ODD]);
  t.teardown(() => ss.stop());
  const bystander = await Client.open(ss.port);
  const c = await Client.open(ss.port);
  c.send('null\nasync-null\nafter\n');
  t.deepEqual(await c.lines(1), ['after']);
  t.false(c.closed);
  await closedWithLog(t, ss, 'first\nnumber\n', /cannot encode reply: /);
  await closedWithLog(t, ss, 'object\n', /cannot encode reply: /);
  await stillServed(t, bystander, 'ping\n', 'ping\n');
  c.destroy();
  bystander.destroy();
});

test('a reply that cannot be encoded still lets the replies before it in the same write go out', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--handler', ODD]);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  c.send('one\ntwo\nnumber\nthree\n');
  await c.waitClose();
  t.is(String(c.received), 'one\ntwo\n');
});

test(`one write of 5000 messages: never more than ${MAX_IN_FLIGHT} handler calls outstanding, every reply in order, even after a half-close`, async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '0', '--handler', './test/fixtures/runtime/count-handler.mjs']);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  const sent = Array.from({ length: 5000 }, (_, i) => String(i));
  c.send(`${sent.join('\n')}\nmost\n`);
  c.end(); // the bytes not yet dispatched at the cap are still answered
  await c.waitClose(15_000);
  const replies = String(c.received).split('\n');
  t.is(replies.pop(), '', 'ends with a newline');
  t.is(replies.length, 5001);
  t.deepEqual(replies.slice(0, 5000), sent, 'every reply, in request order');
  const most = Number(replies[5000]);
  t.log(`at most ${most} handler calls at once`);
  t.true(most <= MAX_IN_FLIGHT, `at most ${MAX_IN_FLIGHT} calls at once, saw ${most}`);
  t.true(most >= MAX_IN_FLIGHT / 2, `calls did overlap (saw ${most})`);
});

test('steady async pipelining does not grow memory: RSS stays flat while requests keep arriving', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '0', '--keep-alive', '0', '--handler', './test/fixtures/runtime/delay-handler.mjs']);
  t.teardown(() => ss.stop());
  // 16 clients each writing 8 KB lines without waiting for their replies (which come 100 ms
  // later), so every connection always has requests in flight. Each keeps at most 192 requests
  // unanswered: the working set stays the same size when a loaded machine stalls the server and
  // it then catches up, and only a leak makes RSS grow.
  const line = Buffer.from(`${'x'.repeat(8191)}\n`);
  const burst = Buffer.concat([line, line, line]);
  const WINDOW = 192;
  let replies = 0;
  const clients = await Promise.all(Array.from({ length: 16 }, () => new Promise<{ s: Socket; sent: number; answered: number }>((resolve, reject) => {
    const c = { s: connect({ host: '127.0.0.1', port: ss.port }, () => resolve(c)), sent: 0, answered: 0 };
    c.s.once('error', reject);
    c.s.on('data', (d: Buffer) => { for (const b of d) if (b === 0x0a) { replies++; c.answered++; } });
  })));
  const sockets = clients.map((c) => c.s);
  const timer = setInterval(() => {
    for (const c of clients) {
      if (c.sent - c.answered > WINDOW - 3) continue;
      c.s.write(burst);
      c.sent += 3;
    }
  }, 10);
  t.teardown(() => {
    clearInterval(timer);
    for (const s of sockets) s.destroy();
  });
  // Warm up until buffers and the heap (young generation included) reach their working size: at
  // least 4 s, then until RSS holds within 4 MiB over three half-seconds in a row (at most 20 s in
  // all; a loaded machine gets there later).
  await sleep(4000);
  let before = rssBytes(ss.pid);
  for (let waited = 4000, steady = 0; waited < 20_000 && steady < 3; waited += 500) {
    await sleep(500);
    const now = rssBytes(ss.pid);
    steady = Math.abs(now - before) < 4 * MiB ? steady + 1 : 0;
    before = now;
  }
  before = rssBytes(ss.pid);
  // Measured over a number of requests, not a time: a loaded machine serves fewer a second. The
  // leak this guards against kept every request's 8 KB read: about 160 MiB over 20,000.
  const repliesBefore = replies;
  for (let waited = 0; waited < 12_000 && replies - repliesBefore < 20_000; waited += 250) await sleep(250);
  const grown = rssBytes(ss.pid) - before;
  const served = replies - repliesBefore;
  clearInterval(timer);
  t.log(`RSS grew by ${(grown / MiB).toFixed(1)} MiB over ${served} requests`);
  t.true(served > 3000, `requests kept being answered (${served} in the window)`);
  t.true(grown < 32 * MiB, `RSS grew by ${(grown / MiB).toFixed(1)} MiB over ${served} requests of 8 KB`);
});

test('frame_timeout closes a connection whose message trickles in, even when the trickle keeps it from being idle', async (t) => {
  const ss = await startSs(['--plugin', 'netstring', '--frame-timeout', '1', '--keep-alive', '0']);
  t.teardown(() => ss.stop());
  const steady = await Client.open(ss.port);
  const trickle = await Client.open(ss.port);
  const started = Date.now();
  trickle.send('10:');
  let closedAfter = 0;
  for (let i = 0; i < 16 && !trickle.closed; i++) { // 4 s at most
    await sleep(250);
    trickle.send('a');
    steady.send('1:x,'); // whole messages, each its own: never pending for long
    t.is(String(await steady.read(4)), '1:x,');
  }
  if (trickle.closed) closedAfter = Date.now() - started;
  t.true(trickle.closed, 'the trickling client was closed');
  // Due after 1 s, plus up to one sweep period (250 ms) and this loop's step on a busy machine.
  t.true(closedAfter >= 1000 && closedAfter < 3500, `closed ${closedAfter} ms after its first byte`);
  t.false(steady.closed, 'a client sending whole messages is not affected');
  const line = await ss.waitForLog((l) => l.level === 40 && l.peer === `127.0.0.1:${trickle.localPort}`);
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): timed out: message incomplete after 1s \(--frame-timeout\); closed$/);
  steady.destroy();
});

test('frame_timeout works for every protocol (line), and 0 never closes', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--frame-timeout', '0.5', '--keep-alive', '10']);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  c.send('par');
  await sleep(200);
  c.send('tial');
  await c.waitClose(3000);
  await ss.waitForLog((l) => l.level === 40 && /message incomplete after 0\.5s/.test(l.msg));

  const never = await startSs(['--plugin', 'line', '--frame-timeout', '0', '--keep-alive', '0']);
  t.teardown(() => never.stop());
  const d = await Client.open(never.port);
  d.send('slow');
  await sleep(1500);
  t.false(d.closed);
  d.send(' but whole\n');
  t.deepEqual(await d.lines(1), ['slow but whole']);
  d.destroy();
});

test('--frame-timeout with a bad value exits 2 naming the setting', async (t) => {
  const r = await runSs(['serve', '--plugin', 'line', '--frame-timeout', 'soon']);
  assertOneLineError(t, r, 2, ['invalid --frame-timeout', 'seconds']);
});

test('a flood of bad connections is logged at most 10 lines a second, then a count of what was suppressed; others are served', async (t) => {
  const ss = await startSs(['--plugin', 'netstring', '--workers', '0']);
  t.teardown(() => ss.stop());
  const started = Date.now();
  for (let batch = 0; batch < 4; batch++) {
    const clients = await Promise.all(Array.from({ length: 50 }, () => Client.open(ss.port)));
    for (const c of clients) c.send('x');
    await Promise.all(clients.map((c) => c.waitClose()));
  }
  const seconds = Math.ceil((Date.now() - started) / 1000);
  const summary = await ss.waitForLog((l) => /suppressed/.test(l.msg), 3000);
  await sleep(1200); // any later summary
  const logged = ss.logs.filter((l) => /bad input/.test(l.msg)).length;
  const suppressed = ss.logs.filter((l) => /suppressed/.test(l.msg))
    .reduce((n, l) => n + Number(/^(\d+) /.exec(l.msg)?.[1] ?? NaN), 0);
  t.regex(summary.msg, /^\d+ more connection log line\(s\) suppressed \(at most 10 a second\)$/);
  t.true(logged <= 10 * (seconds + 1), `${logged} lines in ${seconds} s`);
  t.is(logged + suppressed, 200, 'every bad connection is logged or counted');
  const c = await Client.open(ss.port);
  c.send('2:ok,');
  t.is(String(await c.read(5)), '2:ok,');
  c.destroy();
});
