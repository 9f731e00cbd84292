import test from 'ava';
import { kvPerFile } from '../helpers/kv-call.js';

// kv's few commands of the other types (lists, sets, hashes, sorted sets, streams) as Redis 7.0
// answers them (replies checked against redis-server 7.0.15).

const { call } = kvPerFile(test, (c) => c('SET', 'str', 'v'));
const WRONG = '-WRONGTYPE Operation against a key holding the wrong kind of value';


test.serial('lists: LPUSH, RPUSH, LRANGE, LLEN, LPOP, RPOP; an emptied list is deleted', async (t) => {
  t.is(await call('RPUSH', 'l', 'a', 'b', 'c'), 3);
  t.is(await call('LPUSH', 'l', 'x', 'y'), 5);
  t.deepEqual(await call('LRANGE', 'l', '0', '-1'), ['y', 'x', 'a', 'b', 'c']);
  t.deepEqual(await call('LRANGE', 'l', '-2', '100'), ['b', 'c']);
  t.deepEqual(await call('LRANGE', 'l', '5', '1'), []);
  t.deepEqual(await call('LRANGE', 'nope', '0', '-1'), []);
  t.is(await call('LRANGE', 'l', 'a', '1'), '-ERR value is not an integer or out of range');
  t.is(await call('LLEN', 'l'), 5);
  t.is(await call('LPOP', 'l'), 'y');
  t.deepEqual(await call('RPOP', 'l', '2'), ['c', 'b']);
  t.deepEqual(await call('LPOP', 'l', '0'), []);
  t.is(await call('LPOP', 'l', '-1'), '-ERR value is out of range, must be positive');
  t.is(await call('LPOP', 'nope'), null);
  t.is(await call('LPOP', 'nope', '2'), null);
  t.deepEqual(await call('LPOP', 'l', '10'), ['x', 'a']);
  t.is(await call('EXISTS', 'l'), 0);
  t.is(await call('LPUSH', 'str', 'a'), WRONG);
  t.is(await call('LRANGE', 'str', '0', '1'), WRONG);
  t.is(await call('LLEN', 'str'), WRONG);
  t.is(await call('LPUSH', 'l'), "-ERR wrong number of arguments for 'lpush' command");
});

test.serial('sets: SADD, SREM, SMEMBERS, SCARD, SISMEMBER', async (t) => {
  t.is(await call('SADD', 's', '10', '-5', '3', '3'), 3);
  t.deepEqual(await call('SMEMBERS', 's'), ['-5', '3', '10'], 'integers in order, as an intset');
  t.is(await call('SADD', 's', '3', 'a'), 1);
  t.is(await call('SCARD', 's'), 4);
  t.is(await call('SISMEMBER', 's', 'a'), 1);
  t.is(await call('SISMEMBER', 's', 'b'), 0);
  t.is(await call('SREM', 's', 'a', 'b'), 1);
  t.is(await call('SREM', 's', '10', '-5', '3'), 3);
  t.is(await call('EXISTS', 's'), 0);
  t.deepEqual(await call('SMEMBERS', 's'), []);
  t.is(await call('SADD', 'bin', '\x00\xff', '\xff\x00', '\x00\xff'), 2, 'binary safe');
  t.deepEqual((await call('SMEMBERS', 'bin') as string[]).sort(), ['\x00\xff', '\xff\x00']);
  t.is(await call('SADD', 'str', 'a'), WRONG);
  t.is(await call('SCARD', 'str'), WRONG);
});

test.serial('hashes: HSET, HMSET, HGET, HGETALL, HLEN, HEXISTS, HDEL', async (t) => {
  t.is(await call('HSET', 'h', 'f', 'v', 'g', 'w'), 2);
  t.is(await call('HSET', 'h', 'f', 'v2', 'k', 'x'), 1);
  t.is(await call('HMSET', 'h', 'm', 'n'), '+OK');
  t.is(await call('HGET', 'h', 'f'), 'v2');
  t.is(await call('HGET', 'h', 'nope'), null);
  t.deepEqual(await call('HGETALL', 'h'), ['f', 'v2', 'g', 'w', 'k', 'x', 'm', 'n']);
  t.is(await call('HLEN', 'h'), 4);
  t.is(await call('HEXISTS', 'h', 'g'), 1);
  t.is(await call('HDEL', 'h', 'f', 'g', 'k', 'nope'), 3);
  t.is(await call('HDEL', 'h', 'm'), 1);
  t.is(await call('EXISTS', 'h'), 0);
  t.is(await call('HSET', 'h', 'f'), "-ERR wrong number of arguments for 'hset' command");
  t.is(await call('HSET', 'h', 'f', 'v', 'g'), "-ERR wrong number of arguments for 'hset' command");
  t.is(await call('HSET', 'bin', 'f\x00\xfe', 'v\r\n\xff'), 1);
  t.is(await call('HGET', 'bin', 'f\x00\xfe'), 'v\r\n\xff', 'binary safe');
  t.is(await call('HGET', 'str', 'f'), WRONG);
});

test.serial('SRANDMEMBER: nil, one member, distinct members, repeats; Redis\'s errors; a negative count over a million refused', async (t) => {
  t.is(await call('SRANDMEMBER', 'nope'), null);
  t.deepEqual(await call('SRANDMEMBER', 'nope', '5'), []);
  t.is(await call('SADD', 's', 'a', 'b', 'c'), 3);
  t.true(['a', 'b', 'c'].includes(await call('SRANDMEMBER', 's') as string));
  t.deepEqual(await call('SRANDMEMBER', 's', '0'), []);
  t.deepEqual(((await call('SRANDMEMBER', 's', '100')) as string[]).sort(), ['a', 'b', 'c']);
  const two = (await call('SRANDMEMBER', 's', '2')) as string[];
  t.is(new Set(two).size, 2, 'distinct');
  t.true(two.every((m) => ['a', 'b', 'c'].includes(m)));
  const repeats = (await call('SRANDMEMBER', 's', '-50')) as string[];
  t.is(repeats.length, 50);
  t.deepEqual([...new Set(repeats)].sort(), ['a', 'b', 'c'], 'every member drawn in 50 (a 3 in 10^8 chance otherwise)');
  t.is(await call('SRANDMEMBER', 's', 'x'), '-ERR value is not an integer or out of range');
  t.is(await call('SRANDMEMBER', 's', '1', '2'), '-ERR syntax error');
  t.is(await call('SRANDMEMBER', 'str'), WRONG);
  t.is(await call('SRANDMEMBER', 's', '-1000001'), '-ERR value is out of range, value must between -1000000 and 9223372036854775807');
  t.is(((await call('SRANDMEMBER', 's', '-1000')) as string[]).length, 1000);
});

test.serial('HINCRBY: a missing field counts from 0; Redis\'s errors for a non-integer field, overflow and wrong type', async (t) => {
  t.is(await call('HMSET', 'h', 'a', '1', 's', 'abc'), '+OK');
  t.is(await call('HINCRBY', 'h', 'a', '10'), 11);
  t.is(await call('HINCRBY', 'h', 'n', '-5'), -5);
  t.is(await call('HINCRBY', 'new', 'f', '3'), 3);
  t.is(await call('HGET', 'h', 'a'), '11');
  t.is(await call('HINCRBY', 'h', 'b', 'x'), '-ERR value is not an integer or out of range');
  t.is(await call('HINCRBY', 'h', 'a', '9223372036854775807'), '-ERR increment or decrement would overflow');
  t.is(await call('HINCRBY', 'h', 's', '1'), '-ERR hash value is not an integer');
  t.is(await call('HINCRBY', 'str', 'a', '1'), WRONG);
  t.is(await call('HINCRBY', 'h'), "-ERR wrong number of arguments for 'hincrby' command");
});

test.serial('sorted sets: ZADD, ZRANGE (WITHSCORES, scores as %.17g), ZSCORE, ZCARD, ZREM', async (t) => {
  t.is(await call('ZADD', 'z', '1', 'a', '2.5', 'b', '-inf', 'c', '0.1', 'd'), 4);
  t.is(await call('ZADD', 'z', '3', 'a', '1e-5', 'e'), 1);
  t.deepEqual(await call('ZRANGE', 'z', '0', '-1', 'WITHSCORES'),
    ['c', '-inf', 'e', '1.0000000000000001e-05', 'd', '0.10000000000000001', 'b', '2.5', 'a', '3']);
  t.deepEqual(await call('ZRANGE', 'z', '1', '2'), ['e', 'd']);
  t.is(await call('ZSCORE', 'z', 'b'), '2.5');
  t.is(await call('ZSCORE', 'z', 'nope'), null);
  t.is(await call('ZCARD', 'z'), 5);
  t.is(await call('ZADD', 'z', 'x', 'a'), '-ERR value is not a valid float');
  t.is(await call('ZADD', 'z', '1e400', 'a'), '-ERR value is not a valid float');
  t.is(await call('ZADD', 'z', '1', 'a', '2'), '-ERR syntax error');
  t.is(await call('ZRANGE', 'z', '0', '-1', 'FOO'), '-ERR syntax error');
  t.is(await call('ZREM', 'z', 'a', 'b', 'c', 'd', 'e', 'nope'), 5);
  t.is(await call('EXISTS', 'z'), 0);
  t.is(await call('ZADD', 'str', '1', 'a'), WRONG);
});

test.serial('streams: XADD (explicit and * IDs), XLEN, XRANGE (COUNT, partial IDs) and the ID errors', async (t) => {
  t.is(await call('XADD', 'x', '1-1', 'a', '1'), '1-1');
  t.is(await call('XADD', 'x', '1-1', 'a', '1'), '-ERR The ID specified in XADD is equal or smaller than the target stream top item');
  t.is(await call('XADD', 'x', '5', 'a', '1', 'b', '2'), '5-0');
  t.is(await call('XADD', 'y', '0-0', 'a', '1'), '-ERR The ID specified in XADD must be greater than 0-0');
  t.is(await call('XADD', 'x', 'abc', 'a', '1'), '-ERR Invalid stream ID specified as stream command argument');
  t.is(await call('XADD', 'x', '6', 'a'), "-ERR wrong number of arguments for 'xadd' command");
  const id = await call('XADD', 'x', '*', 'c', '3') as string;
  const [ms] = id.split('-');
  t.true(Math.abs(Number(ms) - Date.now()) < 60_000, id);
  t.is(await call('XLEN', 'x'), 3);
  t.deepEqual(await call('XRANGE', 'x', '-', '+', 'COUNT', '2'), [['1-1', ['a', '1']], ['5-0', ['a', '1', 'b', '2']]]);
  t.deepEqual(await call('XRANGE', 'x', '2', '5'), [['5-0', ['a', '1', 'b', '2']]]);
  t.deepEqual(await call('XRANGE', 'nope', '-', '+'), []);
  t.is(await call('XRANGE', 'x', 'a', '+'), '-ERR Invalid stream ID specified as stream command argument');
  t.is(await call('XADD', 'str', '*', 'a', '1'), WRONG);
});
