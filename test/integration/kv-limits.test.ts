import test from 'ava';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { createClient, type Client } from '@socketserver/core';
import { RespError } from '@socketserver/plugin-resp';
import { runSs, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

type Kv = Client<string[], unknown>;

async function connect(port: number): Promise<Kv> {
  return createClient<string[], unknown>({ plugin: 'resp', address: `127.0.0.1:${port}` });
}

/** A reply within `ms`, else an error naming the command. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no reply within ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A field of INFO's text (`used_memory`), as a number. */
async function infoField(c: Kv, section: string, field: string): Promise<number> {
  const text = String(await c.request(['INFO', section]));
  const m = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in INFO ${section}: ${text}`);
  return Number(m[1]);
}

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

/** SET fresh keys in pipelined batches until a reply is an error (that error), or `most` keys are set (undefined). */
async function fill(c: Kv, most: number, value: string, batch = 1000): Promise<{ set: number; error?: RespError }> {
  let set = 0;
  for (let i = 0; i < most; i += batch) {
    const replies = await Promise.all(Array.from({ length: batch }, (_, j) => c.request(['SET', `key:${i + j}`, value])));
    for (const r of replies) {
      if (r instanceof RespError) return { set, error: r };
      set++;
    }
  }
  return { set };
}

test.serial('KEYS with an exponential glob answers at once, and the worker keeps serving another client', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--timeout', '5']);
  const a = await connect(ss.port);
  const b = await connect(ss.port);
  t.teardown(async () => { await Promise.all([a.close(), b.close()]); });
  await a.request(['MSET', 'a'.repeat(60), '1', `${'a'.repeat(59)}c`, '1', 'other', '1']);
  const pattern = `${'*a'.repeat(50)}b`; // ~100 bytes: exponential for a backtracking matcher (CVE-2022-36021)
  const start = Date.now();
  t.deepEqual(await within(2000, 'KEYS', a.request(['KEYS', pattern])), []);
  t.true(Date.now() - start < 2000);
  t.deepEqual((await within(2000, 'KEYS', a.request(['KEYS', `${'*a'.repeat(50)}c`])) as Buffer[]).map(String), [`${'a'.repeat(59)}c`]);
  t.is(await within(1500, 'PING from a second client', b.request(['PING'])), 'PONG');
});

test.serial('--maxmemory 2mb with noeviction: SETs get -OOM once it is reached; reads and DEL still work', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--maxmemory', '2mb']);
  const c = await connect(ss.port);
  t.teardown(() => c.close());
  const { set, error } = await fill(c, 100_000, 'x'.repeat(100));
  t.is(error?.message, OOM, `${set} keys set`);
  t.true(set > 1000 && set < 20_000, `${set} keys`);
  t.is(await c.request(['INCR', 'counter']) instanceof RespError, true, 'INCR adds memory: refused too');
  t.is(String(await c.request(['GET', 'key:0'])), 'x'.repeat(100));
  t.is(await c.request(['DEL', 'key:0', 'key:1', 'key:2']), 3);
  t.is(await c.request(['SET', 'after-del', 'v']), 'OK', 'room again after DEL');
  t.is(await infoField(c, 'memory', 'maxmemory'), 2 * 1024 * 1024);
  t.true(await infoField(c, 'memory', 'used_memory') <= 2 * 1024 * 1024 + 4096);
  t.regex(String(await c.request(['INFO', 'memory'])), /maxmemory_policy:noeviction/);
  t.deepEqual(await c.request(['CONFIG', 'GET', 'maxmemory']), [Buffer.from('maxmemory'), Buffer.from('2097152')]);
});

test.serial('--maxmemory 2mb with allkeys-lru: SETs succeed, keys are evicted, used_memory stays under maxmemory', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru']);
  const c = await connect(ss.port);
  t.teardown(() => c.close());
  const { set, error } = await fill(c, 30_000, 'x'.repeat(100));
  t.is(error, undefined);
  t.is(set, 30_000);
  t.true(await infoField(c, 'stats', 'evicted_keys') > 0);
  t.true(await infoField(c, 'memory', 'used_memory') <= 2 * 1024 * 1024 * 1.05);
  t.true(Number(await c.request(['DBSIZE'])) < 30_000);
  t.regex(String(await c.request(['INFO', 'memory'])), /maxmemory_policy:allkeys-lru/);
});

test.serial('a mistaken --maxmemory or --maxmemory-policy exits 2 naming the setting', async (t) => {
  for (const [flag, value] of [['--maxmemory', 'lots'], ['--maxmemory-policy', 'allkeys-lfu']] as const) {
    const r = await runSs(['serve', '--plugin', 'resp', '--plugin', 'kv', flag, value]);
    t.is(r.code, 2, flag);
    t.regex(r.stderr, new RegExp(flag.slice(2)), flag);
  }
});

test.serial('by default the store is bounded by the heap: a small heap answers -OOM instead of dying', async (t) => {
  // With a 96 MiB old space the default maxmemory (a quarter of V8's heap limit, which adds the
  // young generation) stays under it on every Node line.
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1'], { env: { NODE_OPTIONS: '--max-old-space-size=96' } });
  const c = await connect(ss.port);
  t.teardown(() => c.close());
  const pid = await infoField(c, 'server', 'process_id');
  const max = await infoField(c, 'memory', 'maxmemory');
  t.true(max > 0 && max < 96 * 1024 * 1024, `maxmemory ${max}`);
  const { set, error } = await fill(c, 2_000_000, 'v'.repeat(16), 2000);
  t.is(error?.message, OOM, `${set} keys set`);
  t.is(await c.request(['PING']), 'PONG');
  t.is(await infoField(c, 'server', 'process_id'), pid, 'the same worker');
});

test.serial('keys set with PX 50 at a high rate are reclaimed: DBSIZE a second later is a small fraction', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  // 200k SETs with PX 50, pipelined 20k to a write on a raw socket (as fast as the server takes them).
  const sock = connectTcp(ss.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await once(sock, 'connect');
  let oks = 0;
  let waiting: (() => void) | undefined;
  let want = 0;
  sock.on('data', (d: Buffer) => {
    for (let i = d.indexOf(0x2b); i !== -1; i = d.indexOf(0x2b, i + 1)) oks++; // one '+' per +OK
    if (oks >= want) waiting?.();
  });
  const start = Date.now();
  const total = 200_000;
  for (let i = 0; i < total; i += 20_000) {
    let chunk = '';
    for (let j = i; j < i + 20_000; j++) {
      const k = `ttl:${j}`;
      chunk += `*5\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$5\r\nvalue\r\n$2\r\nPX\r\n$2\r\n50\r\n`;
    }
    want = i + 20_000;
    const done = new Promise<void>((resolve) => { waiting = resolve; });
    sock.write(chunk);
    await within(30_000, 'SETs', done);
  }
  const took = Date.now() - start;
  await sleep(1000);
  const c = await connect(ss.port);
  t.teardown(() => c.close());
  const left = Number(await c.request(['DBSIZE']));
  t.log(`${total} keys written in ${took} ms, ${left} not yet reclaimed a second later`);
  t.true(left <= total * 0.05, `${left} of ${total} keys left`);
});
