import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { caller, type Caller, type Plain } from '../helpers/kv-call.js';
import { freePort } from '../helpers/free-port.js';
import { startRedis } from '../helpers/redis-server.js';
import { startSs, type SsProcess } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

// DUMP and RESTORE as Redis 7.0 answers them, their payloads exchanged both ways with the real
// redis-server 7.0.15: what kv dumps restores there to the same values (and is Redis's own bytes,
// hash tables' order aside), what Redis dumps (its every encoding) restores in kv; options,
// errors, TTLs and the keyspace event.

let ss: SsProcess;
let redis: ChildProcess;
let kv: Caller;
let rs: Caller;

test.before(async () => {
  ss = await startSs(['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  redis = await startRedis(await freePort());
  kv = await caller(ss.port);
  rs = await caller(Number((redis.spawnargs[redis.spawnargs.indexOf('--port') + 1])));
});
test.after.always(async () => {
  kv?.close();
  rs?.close();
  if (redis?.pid !== undefined) redis.kill();
  await ss?.stop();
});
test.beforeEach(async () => {
  await kv.call('FLUSHALL');
  await rs.call('FLUSHALL');
});

const TYPE_READS: Record<string, (r: Caller, k: string) => Promise<Plain>> = {
  string: (r, k) => r.call('GET', k),
  list: (r, k) => r.call('LRANGE', k, 0, -1),
  set: async (r, k) => ((await r.call('SMEMBERS', k)) as string[]).sort(),
  hash: async (r, k) => {
    const flat = (await r.call('HGETALL', k)) as string[];
    return flat.flatMap((f, i) => (i % 2 === 0 ? [`${f}=${flat[i + 1]}`] : [])).sort();
  },
  zset: (r, k) => r.call('ZRANGE', k, 0, -1, 'WITHSCORES'),
  stream: (r, k) => r.call('XRANGE', k, '-', '+'),
};

/** A key's type, encoding and content, read with its type's commands. */
async function read(r: Caller, k: string): Promise<Plain[]> {
  const type = ((await r.call('TYPE', k)) as string).slice(1);
  return [type, await r.call('OBJECT', 'ENCODING', k), await TYPE_READS[type]!(r, k)];
}

/** The same values made in kv (its commands) and in redis-server. */
const VALUES: (string | number)[][] = [
  ['SET', 'int', '-12345'], ['SET', 'int64', '9223372036854775807'], ['SET', 'short', 'hello'], ['SET', 'long', 'x'.repeat(300)],
  ['SET', 'bin', '\x00\xff\r\n\x80'], ['SET', 'empty', ''],
  ['RPUSH', 'list', 'a', '1', '-70000', '4096', '12345678901', 'y'.repeat(70), 'z'.repeat(5000)],
  ['SADD', 'intset', '3', '-1', '99999999999', '70000'], ['SADD', 'strset', 'a', '1', '\x00b'],
  ['HSET', 'hash', 'f', 'v', 'n', '12', '\x00', '\xff'], ['HSET', 'widehash', 'f', 'v'.repeat(100)],
  ['ZADD', 'zset', '1.5', 'a', '-inf', 'b', '3', 'c', '1e300', 'd', '0.1', 'e'], ['ZADD', 'widez', '1', 'm'.repeat(70), '2', 'n'],
  ['XADD', 'stream', '1-1', 'f', 'v', 'g', 'w'], ['XADD', 'stream', '1-2', 'f', 'x', 'g', 'y'], ['XADD', 'stream', '9-0', 'other', '1'],
];

async function makeBoth(): Promise<void> {
  for (const r of [kv, rs]) {
    for (const c of VALUES) await r.call(...c);
    for (let i = 0; i < 2000; i++) await r.call('RPUSH', 'biglist', `item-${i}-${'p'.repeat(i % 40)}`);
    for (let i = 0; i < 600; i++) await r.call('SADD', 'bigset', i * 3);
    const pairs: string[] = [];
    for (let i = 0; i < 600; i++) pairs.push(`f${i}`, `v${i}`);
    await r.call('HSET', 'bighash', ...pairs);
    const scores: string[] = [];
    for (let i = 0; i < 200; i++) scores.push(String(i / 7), `m${i}`);
    await r.call('ZADD', 'bigz', ...scores);
    for (let i = 1; i <= 250; i++) await r.call('XADD', 'bigstream', `${i}-${i % 3}`, 'i', i, ...(i % 10 === 0 ? ['extra', 'x'] : []));
  }
}

test.serial('what kv dumps, redis-server restores to the same values and encodings (the same bytes as Redis, hash tables aside)', async (t) => {
  await makeBoth();
  const keys = ((await kv.call('KEYS', '*')) as string[]).sort();
  t.is(keys.length, 19);
  // Hash tables: Redis writes them in its hash order, kv in insertion order.
  const hashOrdered = ['strset', 'bigset', 'bighash'];
  for (const k of keys) {
    const payload = (await kv.call('DUMP', k)) as string;
    if (!hashOrdered.includes(k)) t.is(payload, (await rs.call('DUMP', k)) as string, `${k}: Redis's own bytes`);
    t.is(await rs.call('RESTORE', `kv:${k}`, 0, payload), '+OK', k);
    t.deepEqual(await read(rs, `kv:${k}`), await read(kv, k), k);
    t.deepEqual(await read(rs, `kv:${k}`), await read(rs, k), k);
  }
  t.deepEqual(await rs.call('XINFO', 'STREAM', 'kv:bigstream'), await rs.call('XINFO', 'STREAM', 'bigstream'), 'stream metadata');
});

/** XINFO STREAM FULL without the radix tree's sizes (kv keeps entries otherwise, and estimates them). */
async function streamInfo(r: Caller, k: string): Promise<Plain[]> {
  const flat = (await r.call('XINFO', 'STREAM', k, 'FULL')) as Plain[];
  return flat.filter((_, i) => !['radix-tree-keys', 'radix-tree-nodes'].includes(String(flat[i - (i % 2)])));
}

test.serial('a stream with consumer groups: kv\'s DUMP restores in redis-server with its groups, consumers, pending entries and times', async (t) => {
  for (let i = 1; i <= 120; i++) await kv.call('XADD', 'gs', `${i}-0`, 'i', i);
  await kv.call('XDEL', 'gs', '7-0');
  await kv.call('XGROUP', 'CREATE', 'gs', 'readers', '0');
  await kv.call('XGROUP', 'CREATE', 'gs', 'late', '$', 'ENTRIESREAD', 5);
  await kv.call('XREADGROUP', 'GROUP', 'readers', 'bob', 'COUNT', 10, 'STREAMS', 'gs', '>');
  await kv.call('XREADGROUP', 'GROUP', 'readers', 'alice', 'COUNT', 4, 'STREAMS', 'gs', '>');
  await kv.call('XACK', 'gs', 'readers', '2-0');
  await kv.call('XCLAIM', 'gs', 'readers', 'alice', 0, '3-0', 'RETRYCOUNT', 7);
  await kv.call('XGROUP', 'CREATECONSUMER', 'gs', 'late', 'idle');
  t.is(await rs.call('RESTORE', 'gs', 0, (await kv.call('DUMP', 'gs')) as string), '+OK');
  const info = await streamInfo(kv, 'gs');
  t.true(JSON.stringify(info).includes('"alice"') && JSON.stringify(info).includes('"idle"'), JSON.stringify(info));
  t.deepEqual(await streamInfo(rs, 'gs'), info);
  // And back: Redis's payload of it restores in kv to the same.
  t.is(await kv.call('RESTORE', 'again', 0, (await rs.call('DUMP', 'gs')) as string), '+OK');
  t.deepEqual(await streamInfo(kv, 'again'), info);
});

test.serial('what redis-server dumps (its every encoding), kv restores to the same values', async (t) => {
  await makeBoth();
  // Encodings kv does not make: compressed strings, a set grown past 512 integers, shrunk
  // hashes and sorted sets, a stream with deleted entries and a consumer group.
  await rs.call('SET', 'lzf', 'abc'.repeat(1000));
  await rs.call('SET', 'num', 123);
  await rs.call('HDEL', 'bighash', ...Array.from({ length: 595 }, (_, i) => `f${i}`));
  await rs.call('XDEL', 'bigstream', '5-2', '100-1');
  await rs.call('XGROUP', 'CREATE', 'bigstream', 'g', '0');
  await rs.call('XREADGROUP', 'GROUP', 'g', 'alice', 'COUNT', 3, 'STREAMS', 'bigstream', '>');
  const keys = ((await rs.call('KEYS', '*')) as string[]).sort();
  t.is(keys.length, 21);
  for (const k of keys) {
    t.is(await kv.call('RESTORE', `r:${k}`, 0, (await rs.call('DUMP', k)) as string), '+OK', k);
    const [type, encoding, content] = await read(kv, `r:${k}`);
    const [rtype, rencoding, rcontent] = await read(rs, k);
    t.deepEqual([type, content], [rtype, rcontent], k);
    // Redis's encoding as a fresh RESTORE makes it (a shrunk hash loads as a listpack again).
    await rs.call('RESTORE', `again:${k}`, 0, (await rs.call('DUMP', k)) as string);
    t.is(encoding, (await read(rs, `again:${k}`))[1] as string, `${k} (${String(rencoding)})`);
  }
  t.is(await kv.call('XLEN', 'r:bigstream'), 248);
  t.deepEqual(await streamInfo(kv, 'r:bigstream'), await streamInfo(rs, 'bigstream'), 'its group, consumer and pending entries');
});

test.serial('DUMP: nil for a missing key; RESTORE: TTL, ABSTTL, REPLACE, BUSYKEY, IDLETIME, FREQ, as Redis', async (t) => {
  t.is(await kv.call('DUMP', 'nope'), null);
  await kv.call('RPUSH', 'l', 'a', 'b');
  await kv.call('PEXPIRE', 'l', 100_000);
  const payload = (await kv.call('DUMP', 'l')) as string;
  for (const r of [kv, rs]) {
    const tag = r === kv ? 'kv' : 'redis';
    await r.call('SET', 'busy', 'x');
    t.is(await r.call('RESTORE', 'busy', 0, payload), '-BUSYKEY Target key name already exists.', tag);
    t.is(await r.call('RESTORE', 'busy', 0, payload, 'REPLACE'), '+OK', tag);
    t.deepEqual(await r.call('LRANGE', 'busy', 0, -1), ['a', 'b'], tag);
    t.is(await r.call('PTTL', 'busy'), -1, `${tag}: no TTL in the payload`);
    t.is(await r.call('RESTORE', 'ttl', 5000, payload), '+OK', tag);
    const pttl = (await r.call('PTTL', 'ttl')) as number;
    t.true(pttl > 3000 && pttl <= 5000, `${tag}: ${pttl}`);
    const at = Date.now() + 60_000;
    t.is(await r.call('RESTORE', 'abs', at, payload, 'ABSTTL', 'IDLETIME', 10), '+OK', tag);
    t.is(await r.call('PEXPIRETIME', 'abs'), at, tag);
    t.is(await r.call('RESTORE', 'past', 1, payload, 'ABSTTL'), '+OK', `${tag}: a TTL already past`);
    t.is(await r.call('EXISTS', 'past'), 0, tag);
    t.is(await r.call('RESTORE', 'busy', 1, payload, 'ABSTTL', 'REPLACE'), '+OK', `${tag}: the old key deleted`);
    t.is(await r.call('EXISTS', 'busy'), 0, tag);
    const errors: [(string | number)[], string][] = [
      [['RESTORE', 'k', -1, payload], '-ERR Invalid TTL value, must be >= 0'],
      [['RESTORE', 'k', 'x', payload], '-ERR value is not an integer or out of range'],
      [['RESTORE', 'k', 0, payload, 'BOGUS'], '-ERR syntax error'],
      [['RESTORE', 'k', 0, payload, 'IDLETIME'], '-ERR syntax error'],
      [['RESTORE', 'k', 0, payload, 'IDLETIME', -1], '-ERR Invalid IDLETIME value, must be >= 0'],
      [['RESTORE', 'k', 0, payload, 'IDLETIME', 'x'], '-ERR value is not an integer or out of range'],
      [['RESTORE', 'k', 0, payload, 'FREQ', 256], '-ERR Invalid FREQ value, must be >= 0 and <= 255'],
      [['RESTORE', 'k', 0, payload, 'FREQ', 1, 'IDLETIME', 1], '-ERR syntax error'],
      [['RESTORE', 'k', 0], "-ERR wrong number of arguments for 'restore' command"],
      [['DUMP'], "-ERR wrong number of arguments for 'dump' command"],
      [['RESTORE', 'k', -1, 'junk'], '-ERR Invalid TTL value, must be >= 0'],
      [['RESTORE', 'busy2', -1, 'junk'], '-BUSYKEY Target key name already exists.'],
    ];
    await r.call('SET', 'busy2', 'x');
    for (const [args, reply] of errors) t.is(await r.call(...args), reply, `${tag}: ${args.slice(4).join(' ')}`);
    t.is(await r.call('RESTORE', 'f', 0, payload, 'FREQ', 5), '+OK', tag);
    await r.call('CONFIG', 'SET', 'maxmemory', 1);
    t.is(await r.call('RESTORE', 'oom', 0, payload), "-OOM command not allowed when used memory > 'maxmemory'.", `${tag}: over maxmemory`);
    await r.call('CONFIG', 'SET', 'maxmemory', 0);
  }
});

test.serial('corrupted payloads are refused with Redis\'s errors, by kv as by redis-server', async (t) => {
  await kv.call('HSET', 'h', 'field', 'value');
  const good = Buffer.from((await kv.call('DUMP', 'h')) as string, 'latin1');
  const flipped = Buffer.from(good);
  flipped[3]! ^= 0x40;
  const newer = Buffer.from(good);
  newer[good.length - 10] = 11;
  for (const r of [kv, rs]) {
    const tag = r === kv ? 'kv' : 'redis';
    t.is(await r.call('RESTORE', 'k', 0, flipped.toString('latin1')), '-ERR DUMP payload version or checksum are wrong', `${tag}: a changed byte`);
    t.is(await r.call('RESTORE', 'k', 0, newer.toString('latin1')), '-ERR DUMP payload version or checksum are wrong', `${tag}: a newer version`);
    t.is(await r.call('RESTORE', 'k', 0, 'short'), '-ERR DUMP payload version or checksum are wrong', tag);
  }
  // Bodies malformed under a valid footer (a hash listpack cut short, a list node's listpack
  // of garbage, an intset shorter than its count, a duplicate set member, an unknown type, a
  // string longer than the payload, a stream cut short): redis-server refuses each as kv does.
  const bodies = ['04 02 0161', '12 01 02 05 0102030405', '0b 09 0200000001000000', '02 02 0161 0161', '08 00', '00 81 ffffffffffffffff', '13 01 05 6161616161'];
  for (const hex of bodies) {
    const body = Buffer.from(hex.replace(/ /g, ''), 'hex');
    const payload = await footer(body);
    const mine = await kv.call('RESTORE', 'bad', 0, payload);
    t.is(mine, '-ERR Bad data format', hex);
    t.is(await rs.call('RESTORE', 'bad', 0, payload), mine, `redis-server: ${hex}`);
  }
  t.is(await kv.call('EXISTS', 'bad'), 0);
  // Random bodies under valid footers: refused or restored, never a crash.
  let seed = 42;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 300; i++) {
    const body = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * 256)));
    body[0] = Math.floor(random() * 20); // mostly known types, for bodies that get further
    const reply = await kv.call('RESTORE', 'fuzz', 0, await footer(body), 'REPLACE');
    t.true(reply === '-ERR Bad data format' || reply === '+OK', String(reply));
  }
  t.is(await kv.call('PING'), '+PONG', 'kv still serving');
});

/** `body` with a valid footer: version 10 and its CRC-64 (redis-server accepting the footer checks kv's checksum). */
async function footer(body: Buffer): Promise<string> {
  const { crc64 } = await import('@socketserver/plugin-kv');
  const head = Buffer.concat([body, Buffer.from([10, 0])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(0n, head));
  return Buffer.concat([head, crc]).toString('latin1');
}

test.serial('RESTORE tells the keyspace event "restore" (and "del" for a key replaced by one already expired), as Redis', async (t) => {
  await kv.call('SET', 's', 'v');
  const payload = (await kv.call('DUMP', 's')) as string;
  const seen: string[] = [];
  for (const [r, port] of [[kv, ss.port], [rs, Number(redis.spawnargs[redis.spawnargs.indexOf('--port') + 1])]] as const) {
    await r.call('CONFIG', 'SET', 'notify-keyspace-events', 'KEg');
    const sub = connect(port, '127.0.0.1');
    let got = '';
    sub.setEncoding('latin1').on('data', (d: string) => (got += d));
    sub.write('PSUBSCRIBE __keyevent@0__:*\r\n');
    await sleep(200);
    await r.call('RESTORE', 'k', 0, payload);
    await r.call('RESTORE', 'k', 1, payload, 'REPLACE', 'ABSTTL');
    await sleep(300);
    sub.destroy();
    seen.push(got);
    await r.call('CONFIG', 'SET', 'notify-keyspace-events', '');
  }
  t.regex(seen[0]!, /__keyevent@0__:restore\r\n\$1\r\nk\r\n[\s\S]*__keyevent@0__:del\r\n\$1\r\nk\r\n/);
  t.is(seen[0], seen[1]);
});
