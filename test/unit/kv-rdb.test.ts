import test from 'ava';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  crc64, dumpPayload, execute, lzfCompress, lzfDecompress, ListpackWriter, rdbFile, readIntset, readListpack, readZiplist, restoreValue, verifyPayload, writeIntset,
  Store, type Context, type Value,
} from '@socketserver/plugin-kv';
import { freePort } from '../helpers/free-port.js';
import { tempDir } from '../helpers/temp.js';
import { caller } from '../helpers/kv-call.js';

// Redis's serialization format (RDB version 10) as kv writes and reads it: the checksum, LZF,
// listpacks, intsets, ziplists, every type's round trip, malformed payloads refused, and a whole
// RDB file loaded by the real redis-server.

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A payload's body (type + value) with a fresh footer: version 10 and its CRC-64. */
function withFooter(body: Buffer): Buffer {
  const head = Buffer.concat([body, Buffer.from([10, 0])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(0n, head));
  return Buffer.concat([head, crc]);
}

function store(...commands: string[][]): Context {
  const ctx: Context = { store: new Store(), clientId: 1, client: {}, port: 0, startedAt: Date.now() };
  for (const c of commands) execute(c.map(b), ctx);
  return ctx;
}

test('crc64: the known vector, and continued over pieces', (t) => {
  t.is(crc64(0n, b('123456789')), 0xe9c6d914c4b8d9can);
  t.is(crc64(0n, b('')), 0n);
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
  t.is(crc64(crc64(0n, data.subarray(0, 333)), data.subarray(333)), crc64(0n, data));
});

test('lzf: what Redis compressed is decompressed; malformed input is refused', (t) => {
  // redis-server 7.0.15: DUMP of "abc" * 80, compressed (11 bytes for 240).
  const payload = hex('00c30b40f003616263 61e0e102 0162630a008ee1d2e7ae65684b');
  t.true(verifyPayload(payload));
  t.is((restoreValue(payload) as Buffer).toString(), 'abc'.repeat(80));
  t.deepEqual(lzfDecompress(hex('0261626320 05'), 6), undefined, 'a reference to before the start');
  t.deepEqual(lzfDecompress(hex('02616263e0ff'), 300), undefined, 'a truncated reference');
  t.deepEqual(lzfDecompress(hex('05616263'), 6), undefined, 'a truncated literal run');
  t.deepEqual(lzfDecompress(hex('026162632002'), 5), undefined, 'more output than announced');
  t.deepEqual(lzfDecompress(hex('026162632002'), 6), b('abcabc'));
});

test('lzf: compressed as liblzf does (Redis\'s bytes), and back', (t) => {
  t.deepEqual(lzfCompress(b('abc'.repeat(80)), 236), hex('03616263 61e0e102 016263'));
  t.is(lzfCompress(b('abcdefghijklmnopqrstuvwxyz'), 22), undefined, 'nothing to gain');
  t.is(lzfCompress(b('aaaaaaaaaaaaaaaaaaaaaaaa'), 2), undefined, 'no room');
  const text = (n: number) => fc.array(fc.constantFrom(...'ab \x00\xffxyz'), { minLength: n, maxLength: 3000 }).map((a) => b(a.join('')));
  fc.assert(fc.property(fc.oneof(text(3), fc.uint8Array({ minLength: 3, maxLength: 20000 }).map((a) => Buffer.from(a))), (input) => {
    const packed = lzfCompress(input, input.length + 64);
    return packed !== undefined && lzfDecompress(packed, input.length)?.equals(input) === true;
  }), { numRuns: 300 });
});

test('listpack: strings and integers of every encoding round trip', (t) => {
  const samples = ['', 'a', 'x'.repeat(63), 'x'.repeat(64), 'y'.repeat(4095), 'z'.repeat(4096), '0', '127', '128', '-1', '4095', '-4096', '4096',
    '32767', '-32768', '32768', '8388607', '-8388608', '8388608', '2147483647', '-2147483648', '2147483648', '9223372036854775807',
    '-9223372036854775808', '9223372036854775808', '007', '-0', '1.5', '\x00\xff'];
  const lp = new ListpackWriter();
  for (const s of samples) lp.add(b(s));
  t.deepEqual(readListpack(lp.finish())?.map((x) => x.toString('latin1')), samples);
  fc.assert(fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n).map((n) => b(String(n)))), { maxLength: 40 }), (items) => {
    const w = new ListpackWriter();
    for (const x of items) w.add(x);
    const back = readListpack(w.finish());
    return back !== undefined && back.length === items.length && back.every((x, i) => x.equals(items[i]!));
  }), { numRuns: 200 });
  const good = new ListpackWriter().add(b('hello')).add(b('12')).finish();
  for (let cut = 0; cut < good.length; cut++) t.is(readListpack(good.subarray(0, cut)), undefined, `cut at ${cut}`);
  const bent = Buffer.from(good);
  bent[12] = 0x7f; // the first entry's backlen
  t.is(readListpack(bent), undefined);
});

test('intset and ziplist: read as Redis wrote them', (t) => {
  const members = [5n, -3n, 70000n, 2n ** 40n];
  t.deepEqual(readIntset(writeIntset(members)), ['-3', '5', '70000', '1099511627776']);
  t.is(writeIntset([1n, 2n]).readUInt32LE(0), 2, 'the narrowest encoding');
  t.is(readIntset(hex('02000000 02000000 0500 0300')), undefined, 'not ascending');
  t.is(readIntset(hex('03000000 01000000 050000')), undefined, 'no such encoding');
  t.is(readIntset(hex('02000000 05000000 0500')), undefined, 'shorter than its count');
  // A ziplist of "ab", 7 (immediate), 300 (int16): zlbytes, zltail, zllen, entries, 0xFF.
  const zl = hex('15000000 10000000 0300  00 02 6162  04 f8  02 c0 2c01  ff');
  t.deepEqual(readZiplist(zl)?.map(String), ['ab', '7', '300']);
  t.is(readZiplist(Buffer.concat([zl.subarray(0, 11), Buffer.from([0x09]), zl.subarray(12)])), undefined, 'a string running past the end');
});

/** A ziplist of short strings (as Redis before 7.0 wrote small lists, hashes and sorted sets). */
function ziplist(items: string[]): Buffer {
  const entries: Buffer[] = [];
  let prev = 0;
  for (const item of items) {
    const e = Buffer.concat([Buffer.from([prev, item.length]), b(item)]);
    entries.push(e);
    prev = e.length;
  }
  const body = Buffer.concat(entries);
  const head = Buffer.alloc(10);
  head.writeUInt32LE(10 + body.length + 1, 0);
  head.writeUInt32LE(10 + body.length - prev, 4);
  head.writeUInt16LE(items.length, 8);
  return Buffer.concat([head, body, Buffer.from([0xff])]);
}

/** A raw RDB string: 6-bit length (under 64 bytes) and the bytes. */
const rawString = (x: Buffer): Buffer => (x.length < 64 ? Buffer.concat([Buffer.from([x.length]), x]) : Buffer.concat([Buffer.from([0x40 | (x.length >> 8), x.length & 0xff]), x]));

test('older encodings Redis 7.0 still loads are restored: linked lists, ziplists, quicklists of ziplists, text scores', (t) => {
  const restore = (type: number, ...parts: Buffer[]) => restoreValue(withFooter(Buffer.concat([Buffer.from([type]), ...parts])));
  const items = (v: Value | undefined) => (v as unknown as { items: Buffer[] }).items.map(String);
  t.deepEqual(items(restore(1, Buffer.from([2]), rawString(b('a')), Buffer.from([0xc0, 7]))), ['a', '7'], 'RDB_TYPE_LIST');
  t.deepEqual(items(restore(10, rawString(ziplist(['x', 'y'])))), ['x', 'y'], 'RDB_TYPE_LIST_ZIPLIST');
  t.deepEqual(items(restore(14, Buffer.from([2]), rawString(ziplist(['a'])), rawString(ziplist(['b', 'c'])))), ['a', 'b', 'c'], 'RDB_TYPE_LIST_QUICKLIST');
  const hash = restore(13, rawString(ziplist(['f', 'v', 'g', 'w']))) as unknown as { fields: Map<string, Buffer> };
  t.deepEqual([...hash.fields].map(([f, v]) => `${f}=${String(v)}`), ['f=v', 'g=w'], 'RDB_TYPE_HASH_ZIPLIST');
  const zset = restore(12, rawString(ziplist(['a', '1.5', 'b', '-inf']))) as unknown as { scores: Map<string, number> };
  t.deepEqual([...zset.scores], [['a', 1.5], ['b', -Infinity]], 'RDB_TYPE_ZSET_ZIPLIST');
  const old = restore(3, Buffer.from([2]), rawString(b('a')), Buffer.from([3]), b('2.5'), rawString(b('b')), Buffer.from([254])) as unknown as { scores: Map<string, number> };
  t.deepEqual([...old.scores], [['a', 2.5], ['b', Infinity]], 'RDB_TYPE_ZSET, scores as text');
  t.is(restore(3, Buffer.from([1]), rawString(b('a')), Buffer.from([253])), undefined, 'a NaN score');
  t.is(restore(13, rawString(ziplist(['f', 'v', 'f', 'w']))), undefined, 'a duplicate field');
  t.is(restore(13, rawString(ziplist(['f', 'v', 'g']))), undefined, 'a field without its value');
  t.is(restore(18, Buffer.from([1, 3]), rawString(new ListpackWriter().add(b('a')).finish())), undefined, 'no such quicklist container');
  t.deepEqual(items(restore(18, Buffer.from([2, 1]), rawString(b('plain')), Buffer.from([2]), rawString(new ListpackWriter().add(b('p')).finish()))), ['plain', 'p'], 'a plain node');
});

test('every type round trips: the value read back dumps to the same bytes', (t) => {
  const ctx = store(
    ['SET', 'int', '-12345'], ['SET', 'big', '9223372036854775807'], ['SET', 'text', 'x'.repeat(100)], ['SET', 'bin', '\x00\xff\r\n'],
    ['RPUSH', 'list', 'a', '1', '-70000', 'x'.repeat(5000)], ['SADD', 'iset', '3', '-1', '99999999999'], ['SADD', 'hset', 'a', '1', '\x00'],
    ['HSET', 'hash', 'f', 'v', 'n', '12'], ['HSET', 'bighash', 'f', 'v'.repeat(100)], ['ZADD', 'zset', '1.5', 'a', '-inf', 'b', '3', 'c'],
    ['ZADD', 'bigz', '1', 'm'.repeat(70), '2', 'n'], ['XADD', 'stream', '1-1', 'f', 'v', 'g', 'w'], ['XADD', 'stream', '1-2', 'f', 'x', 'g', 'y'],
    ['XADD', 'stream', '9-0', 'other', '1'],
  );
  for (let i = 0; i < 3000; i++) execute([b('RPUSH'), b('long'), b(`item-${i}-${'p'.repeat(i % 50)}`)], ctx);
  for (let i = 0; i < 300; i++) execute([b('ZADD'), b('manyz'), b(String(i / 7)), b(`m${i}`)], ctx);
  for (let i = 0; i < 250; i++) execute([b('XADD'), b('longstream'), b('*'), b('i'), b(String(i))], ctx);
  for (const k of ctx.store.data.keys()) {
    const value = ctx.store.data.get(k)!.value;
    const payload = dumpPayload(value);
    t.true(verifyPayload(payload), k);
    const back = restoreValue(payload);
    t.truthy(back, k);
    t.deepEqual(dumpPayload(back!), payload, k);
    t.deepEqual(plainOf(back!), plainOf(value), k);
  }
});

/** A value compared as its content (not its size estimate, which a restore recomputes). */
function plainOf(v: Value): unknown {
  if (v instanceof Buffer) return v.toString('latin1');
  const o = v as unknown as Record<string, unknown>;
  // Intsets and sorted sets are read back in their order: members compared sorted.
  const sorted: Record<string, unknown> = { ...o, bytes: 0 };
  if (o.members instanceof Set) sorted.members = [...(o.members as Set<string>)].sort();
  if (o.scores instanceof Map) sorted.scores = [...(o.scores as Map<string, number>)].sort();
  return sorted;
}

test('payloads refused: bad footer, truncated or bent bodies; never a throw', (t) => {
  const ctx = store(['RPUSH', 'l', 'a', 'b'], ['HSET', 'h', 'f', 'v'], ['XADD', 's', '1-1', 'f', 'v'], ['SADD', 's2', '1', '2'], ['ZADD', 'z', '1', 'a']);
  for (const k of ctx.store.data.keys()) {
    const payload = dumpPayload(ctx.store.data.get(k)!.value);
    const flipped = Buffer.from(payload);
    flipped[1]! ^= 1;
    t.false(verifyPayload(flipped), `${k}: a changed byte`);
    const newer = Buffer.from(payload);
    newer[payload.length - 10] = 11;
    t.false(verifyPayload(newer), `${k}: a newer RDB version`);
    t.false(verifyPayload(payload.subarray(0, 9)));
    const body = payload.subarray(0, payload.length - 10);
    for (let cut = 0; cut < body.length; cut++) t.is(restoreValue(withFooter(body.subarray(0, cut))), undefined, `${k} cut at ${cut}`);
  }
  t.is(restoreValue(withFooter(hex('08 00'))), undefined, 'an unknown type');
  t.is(restoreValue(withFooter(hex('00 81 ffffffffffffffff'))), undefined, 'a string longer than the payload');
  t.is(restoreValue(withFooter(hex('00 c3 05 c2 ffffff7f 0102030405'))), undefined, 'LZF announcing more than it can hold');
  t.is(restoreValue(withFooter(hex('02 02 0161 0161'))), undefined, 'a duplicate set member');
  t.is(restoreValue(withFooter(hex('12 00'))), undefined, 'an empty list');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const v = restoreValue(withFooter(Buffer.from(bytes)));
    return v === undefined || typeof v === 'object';
  }), { numRuns: 2000 });
});

test('rdbFile: the real redis-server loads the whole dataset, TTLs and all', async (t) => {
  const now = Date.now();
  const ctx = store(
    ['SET', 'str', 'hello'], ['SET', 'n', '42'], ['SET', 'ttl', 'soon', 'PX', '500000'], ['SET', 'gone', 'x', 'PX', '1'],
    ['RPUSH', 'list', 'a', 'b', '3'], ['SADD', 'set', '1', '2'], ['SADD', 'set2', 'a'], ['HSET', 'hash', 'f', 'v'],
    ['ZADD', 'zset', '2', 'b', '1', 'a'], ['XADD', 'stream', '1-1', 'f', 'v'], ['SET', '\x00bin\xff', '\xff'],
    ['SET', 'far', 'x'], ['PEXPIREAT', 'far', '9223372036854775807'], ['SET', 'long', 'abc'.repeat(1000)],
  );
  const dir = tempDir(t, 'rdb');
  writeFileSync(join(dir, 'dump.rdb'), rdbFile(ctx.store, { now: now + 100 }));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill());
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (log += s));
  const started = Date.now();
  while (!log.includes('Ready to accept connections') && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
  t.true(log.includes('Ready to accept connections'), log);
  t.regex(log, /DB loaded from disk/);
  const r = await caller(port);
  t.teardown(() => r.close());
  t.is(await r.call('DBSIZE'), 12);
  t.is(await r.call('GET', 'str'), 'hello');
  t.is(await r.call('OBJECT', 'ENCODING', 'n'), 'int');
  const pttl = await r.call('PTTL', 'ttl') as number;
  t.true(pttl > 400_000 && pttl <= 500_000, String(pttl));
  t.is(await r.call('EXISTS', 'gone'), 0);
  t.deepEqual(await r.call('LRANGE', 'list', '0', '-1'), ['a', 'b', '3']);
  t.deepEqual(await r.call('SMEMBERS', 'set'), ['1', '2']);
  t.is(await r.call('OBJECT', 'ENCODING', 'set'), 'intset');
  t.deepEqual(await r.call('SMEMBERS', 'set2'), ['a']);
  t.deepEqual(await r.call('HGETALL', 'hash'), ['f', 'v']);
  t.deepEqual(await r.call('ZRANGE', 'zset', '0', '-1', 'WITHSCORES'), ['a', '1', 'b', '2']);
  t.deepEqual(await r.call('XRANGE', 'stream', '-', '+'), [['1-1', ['f', 'v']]]);
  t.is(await r.call('GET', '\x00bin\xff'), '\xff');
  t.is(await r.call('PTTL', 'str'), -1);
  t.is(await r.call('PEXPIRETIME', 'far'), 9223372036854775807n, 'the farthest expiry');
  t.is(await r.call('GET', 'long'), 'abc'.repeat(1000), 'compressed');
});
