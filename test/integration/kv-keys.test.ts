import test from 'ava';
import { kvPerFile } from '../helpers/kv-call.js';

// kv's key-space commands as Redis 7.0 answers them (replies checked against redis-server 7.0.15).

const { call } = kvPerFile(test);


test.serial('DEL and UNLINK count the keys deleted, of any type; EXISTS and TOUCH count the keys there', async (t) => {
  await call('SET', 's', 'v');
  await call('RPUSH', 'l', 'a');
  await call('SADD', 'set', 'a');
  await call('HSET', 'h', 'f', 'v');
  t.is(await call('EXISTS', 's', 'l', 'set', 'h', 'nope', 's'), 5);
  t.is(await call('TOUCH', 's', 'l', 'nope'), 2);
  t.is(await call('DEL', 's', 'l', 'nope'), 2);
  t.is(await call('UNLINK', 'set', 'h', 'set'), 2);
  t.is(await call('DBSIZE'), 0);
  t.is(await call('UNLINK'), "-ERR wrong number of arguments for 'unlink' command");
});

test.serial('TYPE names each type, none for a missing key; KEYS lists keys of every type', async (t) => {
  await call('SET', 's', 'v');
  await call('LPUSH', 'l', 'a');
  await call('SADD', 'set', 'a');
  await call('HSET', 'h', 'f', 'v');
  await call('ZADD', 'z', '1', 'a');
  await call('XADD', 'x', '1-1', 'f', 'v');
  const types = await Promise.all(['s', 'l', 'set', 'h', 'z', 'x', 'nope'].map((k) => call('TYPE', k)));
  t.deepEqual(types, ['+string', '+list', '+set', '+hash', '+zset', '+stream', '+none']);
  t.deepEqual((await call('KEYS', '*') as string[]).sort(), ['h', 'l', 's', 'set', 'x', 'z']);
  t.deepEqual((await call('KEYS', 's*') as string[]).sort(), ['s', 'set']);
});

test.serial('RENAME moves the value and its expiry, replaces the target (and its expiry); RENAMENX does not replace', async (t) => {
  await call('SET', 'a', 'hello');
  t.is(await call('RENAME', 'a', 'b'), '+OK');
  t.is(await call('GET', 'b'), 'hello');
  t.is(await call('EXISTS', 'a'), 0);
  t.is(await call('RENAME', 'a', 'b'), '-ERR no such key');
  t.is(await call('RENAME', 'a', 'a'), '-ERR no such key', 'the same missing key: still an error');
  t.is(await call('RENAME', 'b', 'b'), '+OK');
  t.is(await call('RENAMENX', 'b', 'b'), 0);
  await call('EXPIRE', 'b', '100');
  await call('SET', 'c', 'other');
  t.is(await call('RENAME', 'b', 'c'), '+OK');
  t.is(await call('GET', 'c'), 'hello');
  const ttl = await call('TTL', 'c') as number;
  t.true(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  await call('SET', 'd', 'plain');
  t.is(await call('RENAME', 'd', 'c'), '+OK');
  t.is(await call('TTL', 'c'), -1, 'the target\'s expiry is not inherited');
  await call('SET', 'e', 'x');
  t.is(await call('RENAMENX', 'e', 'c'), 0);
  t.is(await call('GET', 'c'), 'plain');
  t.is(await call('RENAMENX', 'e', 'f'), 1);
  t.is(await call('GET', 'f'), 'x');
  await call('RPUSH', 'list', 'a', 'b');
  t.is(await call('RENAME', 'list', 'list2'), '+OK');
  t.deepEqual(await call('LRANGE', 'list2', '0', '-1'), ['a', 'b']);
});

test.serial('COPY copies the value and its expiry, an independent copy; REPLACE, DB 0 only, and its errors', async (t) => {
  await call('SET', 'a', 'foobar', 'EX', '100');
  t.is(await call('COPY', 'a', 'b'), 1);
  t.is(await call('GET', 'b'), 'foobar');
  const ttl = await call('TTL', 'b') as number;
  t.true(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
  await call('SET', 'c', 'new');
  t.is(await call('COPY', 'c', 'b'), 0, 'no REPLACE: an existing target is kept');
  t.is(await call('GET', 'b'), 'foobar');
  t.is(await call('COPY', 'c', 'b', 'REPLACE'), 1);
  t.is(await call('GET', 'b'), 'new');
  t.is(await call('TTL', 'b'), -1, 'no expiry copied where there is none');
  t.is(await call('COPY', 'nope', 'b'), 0);
  t.is(await call('COPY', 'a', 'a'), '-ERR source and destination objects are the same');
  t.is(await call('COPY', 'a', 'd', 'DB', '0'), 1);
  t.is(await call('COPY', 'a', 'e', 'DB', '1'), '-ERR DB index is out of range');
  t.is(await call('COPY', 'a', 'e', 'DB', 'notanumber'), '-ERR value is not an integer or out of range');
  t.is(await call('COPY', 'a', 'e', 'DB'), '-ERR syntax error');
  t.is(await call('COPY', 'a', 'e', 'FOO'), '-ERR syntax error');
  await call('RPUSH', 'l', 'a', 'b');
  await call('HSET', 'h', 'f', 'v');
  await call('SADD', 's', '1', '2');
  await call('ZADD', 'z', '1', 'm');
  await call('XADD', 'x', '1-1', 'f', 'v');
  for (const k of ['l', 'h', 's', 'z', 'x']) t.is(await call('COPY', k, `${k}2`), 1);
  await call('RPUSH', 'l', 'c');
  await call('HSET', 'h', 'f', 'changed');
  await call('SADD', 's', '3');
  await call('ZADD', 'z', '2', 'n');
  await call('XADD', 'x', '2-1', 'g', 'w');
  t.deepEqual(await call('LRANGE', 'l2', '0', '-1'), ['a', 'b'], 'the copies do not change with the originals');
  t.deepEqual(await call('HGETALL', 'h2'), ['f', 'v']);
  t.deepEqual(await call('SMEMBERS', 's2'), ['1', '2']);
  t.deepEqual(await call('ZRANGE', 'z2', '0', '-1'), ['m']);
  t.deepEqual(await call('XRANGE', 'x2', '-', '+'), [['1-1', ['f', 'v']]]);
  t.is(await call('XADD', 'x2', '1-1', 'f', 'v'), '-ERR The ID specified in XADD is equal or smaller than the target stream top item');
});

test.serial('RANDOMKEY: one of the keys, nil when there is none', async (t) => {
  t.is(await call('RANDOMKEY'), null);
  await call('SET', 'foo', 'x');
  await call('SET', 'bar', 'y');
  const seen = new Set<unknown>();
  for (let i = 0; i < 100 && seen.size < 2; i++) seen.add(await call('RANDOMKEY'));
  t.deepEqual([...seen].sort(), ['bar', 'foo']);
  await call('DEL', 'foo', 'bar');
  t.is(await call('RANDOMKEY'), null);
  await call('SET', 'gone', 'x', 'PX', '1');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(await call('RANDOMKEY'), null, 'an expired key is not drawn');
});

test.serial('OBJECT ENCODING as Redis 7.0 for small values, REFCOUNT, FREQ, IDLETIME, HELP and errors', async (t) => {
  await call('SET', 'int', '12345');
  await call('SET', 'emb', 'hello');
  await call('SET', 'raw', 'x'.repeat(45));
  await call('RPUSH', 'l', 'a');
  await call('SADD', 'iset', '1', '2');
  await call('SADD', 'hset', '1', 'a');
  await call('HSET', 'h', 'f', 'v');
  await call('HSET', 'hbig', 'f', 'v'.repeat(65));
  await call('ZADD', 'z', '1', 'a');
  await call('ZADD', 'zbig', '1', 'm'.repeat(65));
  await call('XADD', 'x', '*', 'f', 'v');
  const encodings = await Promise.all(['int', 'emb', 'raw', 'l', 'iset', 'hset', 'h', 'hbig', 'z', 'zbig', 'x'].map((k) => call('OBJECT', 'ENCODING', k)));
  t.deepEqual(encodings, ['int', 'embstr', 'raw', 'quicklist', 'intset', 'hashtable', 'listpack', 'hashtable', 'listpack', 'skiplist', 'stream']);
  await call('SADD', 'iset', 'x');
  t.is(await call('OBJECT', 'ENCODING', 'iset'), 'hashtable', 'a set with a non-integer member is a hashtable');
  t.is(await call('OBJECT', 'ENCODING', 'nope'), null);
  t.is(await call('OBJECT', 'REFCOUNT', 'int'), 1);
  await call('SET', 'small', '123');
  t.is(await call('OBJECT', 'REFCOUNT', 'small'), 2147483647, 'an integer under 10000 is a shared object');
  t.is(await call('OBJECT', 'REFCOUNT', 'emb'), 1);
  t.is(await call('OBJECT', 'REFCOUNT', 'l'), 1);
  t.is(await call('OBJECT', 'IDLETIME', 'emb'), 0);
  t.regex(await call('OBJECT', 'FREQ', 'emb') as string, /^-ERR An LFU maxmemory policy is not selected, access frequency not tracked\./);
  t.is(await call('OBJECT', 'FOO', 'emb'), "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.");
  t.is(await call('OBJECT', 'ENCODING'), "-ERR wrong number of arguments for 'object|encoding' command");
  const help = await call('OBJECT', 'HELP') as string[];
  t.is(help[0], '+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  t.is(help.at(-1), '+    Prints this help.');
});

test.serial('FLUSHALL and FLUSHDB take ASYNC or SYNC; a string command on another type is WRONGTYPE', async (t) => {
  await call('SET', 'a', '1');
  t.is(await call('FLUSHALL', 'ASYNC'), '+OK');
  t.is(await call('FLUSHDB', 'sync'), '+OK');
  t.is(await call('FLUSHALL', 'NOW'), '-ERR syntax error');
  await call('RPUSH', 'l', 'a');
  const wrong = '-WRONGTYPE Operation against a key holding the wrong kind of value';
  t.is(await call('GET', 'l'), wrong);
  t.is(await call('INCR', 'l'), wrong);
  t.is(await call('SADD', 'l', 'x'), wrong);
  t.is(await call('HGET', 'l', 'x'), wrong);
  t.is(await call('LRANGE', 'l', '0', '-1').then((v) => (v as string[]).length), 1, 'the list is still there');
});
