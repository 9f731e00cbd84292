import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { eventually, isAlive, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// What a connection holds (input still arriving, requests in handlers, unread replies) is
// counted, per connection (--max-client-memory) and per process (--maxmemory-clients).

const LIMITS_HANDLER = join(FIXTURES, 'runtime', 'limits-handler.mjs');
const MiB = 2 ** 20;

interface Figures { memory: number; closed: Record<string, number> }

/** The one worker's connection figures. */
async function figures(ss: SsProcess): Promise<Figures> {
  const doc = await ssInfo(ss.pid);
  return (doc.workers as { stats: { connections: Figures } }[])[0]!.stats.connections;
}

/** Send `data` as fast as the server takes it, in `chunk`s, until `bytes` are sent or the server closes. */
async function pour(c: Client, chunk: Buffer, bytes: number): Promise<number> {
  let sent = 0;
  const deadline = Date.now() + 30_000;
  while (sent < bytes && !c.closed && Date.now() < deadline) {
    sent += chunk.length;
    if (!c.socket.write(chunk)) await new Promise<void>((r) => { c.socket.once('drain', r); c.socket.once('close', r); });
  }
  return sent;
}

test('resp: a multibulk of millions of empty arguments is closed at --max-client-memory (default 128 MiB, counting each argument); the worker serves on', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  const [worker] = ss.logs.filter((l) => /ready \(pid/.test(l.msg)).map((l) => l.workerPid as number);
  const attacker = await Client.open(ss.port);
  attacker.socket.on('error', () => {});
  attacker.send('*50000000\r\n');
  // 6 bytes an argument on the wire: the limit is met after about a million of them, ~7 MiB sent.
  const sent = await pour(attacker, Buffer.from('$0\r\n\r\n'.repeat(10_000)), 64 * MiB);
  await attacker.waitClose(20_000);
  t.true(sent < 32 * MiB, `closed after ${(sent / MiB).toFixed(1)} MiB sent, not 64`);
  const line = await ss.waitForLog((l) => /over max_client_memory=128\.0 MiB; closed/.test(l.msg));
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): holds 12[89]\.\d MiB/);
  const bystander = await Client.open(ss.port);
  bystander.send('PING\r\n');
  await bystander.until(() => String(bystander.received) === '+PONG\r\n', 'PONG');
  bystander.destroy();
  t.true(isAlive(worker!));
  const f = await eventually(async () => { const x = await figures(ss); return x.closed.memory_limit === 1 ? x : undefined; }, 'memory_limit 1');
  t.true(f.memory < MiB, `what the open connections hold now: ${f.memory}`);
});

test('resp: a partial bulk over --max-client-memory closes its connection; the refusal comes before the storage doubles', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--max-client-memory', '4mb']);
  const attacker = await Client.open(ss.port);
  attacker.socket.on('error', () => {});
  attacker.send('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n');
  const sent = await pour(attacker, Buffer.alloc(64 * 1024, 120), 9 * MiB);
  await attacker.waitClose(20_000);
  t.true(sent < 9 * MiB);
  await ss.waitForLog((l) => /holds 4\.\d MiB, over max_client_memory=4\.0 MiB; closed/.test(l.msg));
  // A value under the limit is stored.
  const fine = await Client.open(ss.port);
  fine.send(`*2\r\n$4\r\nECHO\r\n$${3 * MiB}\r\n`).send(Buffer.alloc(3 * MiB, 97)).send('\r\n');
  await fine.until(() => fine.received.length >= 3 * MiB + 12, 'the 3 MiB echo', 20_000);
  t.is(fine.received.subarray(0, 10).toString(), `$${3 * MiB}\r\n`);
  fine.destroy();
});

test('--maxmemory-clients: when all connections hold more, the one holding the most is closed first; the others are served', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--max-client-memory', '16mb', '--maxmemory-clients', '10mb']);
  const small = await Client.open(ss.port);
  const big = await Client.open(ss.port);
  big.socket.on('error', () => {});
  // Each holds a partial value: 3 MiB (in storage for the 4 MiB announced), then 7 MiB (in 8 MiB).
  small.send(`*2\r\n$4\r\nECHO\r\n$${4 * MiB}\r\n`).send(Buffer.alloc(3 * MiB, 97));
  await eventually(async () => ((await figures(ss)).memory >= 3 * MiB ? true : undefined), 'the small one held');
  big.send(`*2\r\n$4\r\nECHO\r\n$${8 * MiB}\r\n`);
  await pour(big, Buffer.alloc(64 * 1024, 98), 7 * MiB);
  await big.waitClose(20_000);
  const line = await ss.waitForLog((l) => /holds the most \([\d.]+ MiB\) of all connections, which hold over maxmemory_clients=10\.0 MiB; closed/.test(l.msg));
  t.is(line.conn, 2);
  small.send(Buffer.alloc(MiB, 97)).send('\r\n');
  await small.until(() => small.received.length >= 4 * MiB + 12, 'the small one answered', 20_000);
  small.destroy();
  t.is((await figures(ss)).closed.memory_limit, 1);
});

test('kv: a reply that would take its connection over --max-client-memory closes it, without being built', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--max-client-memory', '4mb']);
  const c = await Client.open(ss.port);
  for (const key of ['a', 'b', 'c']) c.send(`*3\r\n$3\r\nSET\r\n$1\r\n${key}\r\n$${2 * MiB}\r\n`).send(Buffer.alloc(2 * MiB, 97)).send('\r\n');
  await c.until(() => String(c.received) === '+OK\r\n+OK\r\n+OK\r\n', 'three OKs', 20_000);
  c.send('MGET a b\r\n'); // 4 MiB and a few bytes
  await c.waitClose(10_000);
  t.is(String(c.received), '+OK\r\n+OK\r\n+OK\r\n', 'no part of the reply was sent');
  const line = await ss.waitForLog((l) => /would hold with its replies 4\.0 MiB, over max_client_memory=4\.0 MiB; closed/.test(l.msg));
  t.is(line.level, 40);
  const d = await Client.open(ss.port);
  d.send('EXISTS a b c\r\n');
  await d.until(() => String(d.received) === ':3\r\n', 'EXISTS');
  d.destroy();
});

test('a handler that never settles: a pipelining client is paused once its requests hold about 1 MiB; the worker holds little', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', LIMITS_HANDLER]);
  const line = Buffer.from('never\n');
  const big = Buffer.concat([Buffer.alloc(60 * 1024, 97), Buffer.from('\n')]);
  const clients = await Promise.all(Array.from({ length: 4 }, () => Client.open(ss.port)));
  for (const c of clients) {
    c.socket.on('error', () => {});
    c.send(line); // never answered: every request after it waits behind it
    for (let i = 0; i < 1024 && c.socket.writableLength < 16 * MiB; i++) c.send(big);
  }
  await sleep(1500);
  const f = await figures(ss);
  // 4 clients × (1 MiB of requests + a read or two): on main every request was read (60 MiB).
  t.true(f.memory > 4 * MiB * 0.9 && f.memory < 4 * 2 * MiB, `held: ${(f.memory / MiB).toFixed(1)} MiB`);
  for (const c of clients) t.true(c.socket.writableLength > 0, 'the client is made to wait');
  for (const c of clients) c.destroy();
});

test('--handler-timeout: a connection whose request is not answered in time is closed, counted and logged; others go on', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', LIMITS_HANDLER, '--handler-timeout', '1']);
  const stuck = await Client.open(ss.port);
  const other = await Client.open(ss.port);
  const before = Date.now(); // the server cannot have the request before it is sent
  stuck.send('hello\nnever\n');
  await stuck.until(() => String(stuck.received) === 'hello\n', 'the reply before');
  await stuck.waitClose(10_000);
  t.true(Date.now() - before >= 1000, 'not before its second');
  await ss.waitForLog((l) => /: request 2 not answered after 1s \(--handler-timeout\); closed$/.test(l.msg));
  other.send('pid\n');
  await other.until(() => /^\d+\n$/.test(String(other.received)), 'a pid');
  other.destroy();
  t.is((await figures(ss)).closed.handler_timeout, 1);
});

test('one read of slow requests gives the event loop back: another client is answered before the read\'s last reply', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', LIMITS_HANDLER]);
  const busy = await Client.open(ss.port);
  const other = await Client.open(ss.port);
  busy.send('spin 40\n'.repeat(40)); // 1.6 s of handler time in one write
  await sleep(50);
  other.send('spins\n');
  await other.until(() => /^\d+\n$/.test(String(other.received)), 'a count', 20_000);
  const spunSoFar = Number(String(other.received).trim());
  t.true(spunSoFar < 40, `answered when the busy read had had ${spunSoFar} of its 40 requests handled`);
  await busy.until(() => String(busy.received) === 'spun\n'.repeat(40), 'every reply, in order', 10_000);
  busy.destroy();
  other.destroy();
});

test('netstring: many connections each holding part of a large frame add up to no more than --maxmemory-clients', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring', '--workers', '1', '--maxmemory-clients', '8mb']);
  const clients = await Promise.all(Array.from({ length: 40 }, () => Client.open(ss.port)));
  for (const c of clients) {
    c.socket.on('error', () => {});
    c.send('1048576:').send(Buffer.alloc(400 * 1024, 120)); // 40 × 400 KiB held (in 512 KiB of storage each)
  }
  const closed = () => clients.filter((c) => c.closed).length;
  await eventually(() => (closed() >= 20 ? true : undefined), 'the largest closed', 20_000);
  await sleep(500);
  const f = await figures(ss);
  t.true(f.memory <= 8 * MiB, `held: ${(f.memory / MiB).toFixed(1)} MiB`);
  t.is(f.closed.memory_limit, closed());
  t.true(closed() < 40, 'those that fit are kept');
  for (const c of clients) c.destroy();
});

test('/metrics shows what each worker\'s connections hold, and memory_limit closes', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0', '--workers', '1',
    '--max-line', '1mb', '--max-client-memory', '512kb']);
  const url = new URL((await ss.waitForLog((l) => typeof l.metrics === 'string', 20_000)).metrics as string);
  const holder = await Client.open(ss.port);
  holder.send(Buffer.alloc(200 * 1024, 97)); // part of a line: held
  const over = await Client.open(ss.port);
  over.socket.on('error', () => {});
  over.send(Buffer.alloc(600 * 1024, 97)); // over the connection's limit
  await over.waitClose(10_000);
  const text = await eventually(async () => {
    const body = await (await fetch(url)).text();
    const held = Number(/^socketserver_worker_client_memory_bytes\{[^}]*\} (\d+)$/m.exec(body)?.[1]);
    return held >= 200 * 1024 && /^socketserver_connections_closed_total\{server="line",reason="memory_limit"\} 1$/m.test(body) ? body : undefined;
  }, 'the figures in /metrics', 15_000);
  const held = Number(/^socketserver_worker_client_memory_bytes\{[^}]*\} (\d+)$/m.exec(text)![1]);
  t.true(held < 1024 * 1024, `held: ${held}`);
  holder.destroy();
});
