import test from 'ava';
import { kvPerFile } from '../helpers/kv-call.js';
import { sleep } from '../helpers/wait.js';

// kv's expiry commands as Redis 7.0 answers them (replies checked against redis-server 7.0.15).

const { call } = kvPerFile(test);
const between = async (t: { true(v: boolean, m?: string): void }, reply: Promise<unknown>, low: number, high: number) => {
  const n = await reply as number;
  t.true(n >= low && n <= high, `${n} not in [${low}, ${high}]`);
};


test.serial('EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT set the expiry TTL, PTTL, EXPIRETIME, PEXPIRETIME read', async (t) => {
  await call('SET', 'k', 'v');
  t.deepEqual(await Promise.all(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME'].map((c) => call(c, 'k'))), [-1, -1, -1, -1]);
  t.deepEqual(await Promise.all(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME'].map((c) => call(c, 'nope'))), [-2, -2, -2, -2]);
  t.is(await call('EXPIRE', 'k', '100'), 1);
  await between(t, call('TTL', 'k'), 99, 100);
  t.is(await call('PEXPIRE', 'k', '50000'), 1);
  await between(t, call('PTTL', 'k'), 45_000, 50_000);
  const at = Math.floor(Date.now() / 1000) + 200;
  t.is(await call('EXPIREAT', 'k', String(at)), 1);
  t.is(await call('EXPIRETIME', 'k'), at);
  t.is(await call('PEXPIRETIME', 'k'), at * 1000);
  t.is(await call('PEXPIREAT', 'k', String(at * 1000 + 123)), 1);
  t.is(await call('PEXPIRETIME', 'k'), at * 1000 + 123);
  t.is(await call('EXPIRE', 'nope', '100'), 0);
  t.is(await call('PEXPIREAT', 'k', '9223372036854770000'), 1, 'as far as 64 bits go');
});

test.serial('an expiry in the past, or negative, deletes the key (and answers 1)', async (t) => {
  for (const [cmd, time] of [['EXPIRE', '-10'], ['PEXPIRE', '0'], ['EXPIREAT', '1'], ['PEXPIREAT', '-9223372036854770000']]) {
    await call('SET', 'k', 'v');
    t.is(await call(cmd!, 'k', time!), 1, cmd);
    t.is(await call('EXISTS', 'k'), 0, cmd);
  }
});

test.serial('keys expire, sub-second too: read after the time they are gone, of any type', async (t) => {
  await call('SET', 's', 'v');
  await call('RPUSH', 'l', 'a');
  await call('HSET', 'h', 'f', 'v');
  t.is(await call('PEXPIRE', 's', '100'), 1);
  t.is(await call('PEXPIRE', 'l', '100'), 1);
  t.is(await call('PEXPIRE', 'h', '100'), 1);
  t.is(await call('GET', 's'), 'v');
  await sleep(300);
  t.is(await call('GET', 's'), null);
  t.deepEqual(await call('LRANGE', 'l', '0', '-1'), []);
  t.is(await call('EXISTS', 'h'), 0);
  await call('RPUSH', 'l2', 'foo');
  await call('EXPIRE', 'l2', '1000');
  await call('RPUSH', 'l2', 'bar');
  t.deepEqual(await call('LRANGE', 'l2', '0', '-1'), ['foo', 'bar'], 'writing to a key with an expiry keeps it');
  await between(t, call('TTL', 'l2'), 990, 1000);
});

test.serial('NX, XX, GT and LT set the expiry only when their condition holds', async (t) => {
  await call('SET', 'k', 'v', 'EX', '100');
  t.is(await call('EXPIRE', 'k', '200', 'NX'), 0);
  t.is(await call('EXPIRE', 'k', '200', 'XX'), 1);
  await between(t, call('TTL', 'k'), 190, 200);
  t.is(await call('EXPIRE', 'k', '100', 'GT'), 0);
  t.is(await call('EXPIRE', 'k', '300', 'gt'), 1);
  t.is(await call('EXPIRE', 'k', '400', 'LT'), 0);
  t.is(await call('EXPIRE', 'k', '50', 'LT', 'XX'), 1);
  await between(t, call('TTL', 'k'), 40, 50);
  await call('SET', 'p', 'v');
  t.is(await call('EXPIRE', 'p', '200', 'XX'), 0);
  t.is(await call('EXPIRE', 'p', '200', 'GT'), 0, 'no expiry is an infinite one: nothing is greater');
  t.is(await call('TTL', 'p'), -1);
  t.is(await call('EXPIRE', 'p', '200', 'LT'), 1, 'and anything is less');
  await call('SET', 'q', 'v');
  t.is(await call('EXPIRE', 'q', '200', 'NX'), 1);
  t.is(await call('EXPIRE', 'q', '-10', 'LT'), 1);
  t.is(await call('EXISTS', 'q'), 0);
  for (const opt of ['NX', 'XX', 'GT', 'LT']) t.is(await call('EXPIRE', 'none', '100', opt), 0);
});

test.serial('EXPIRE\'s errors: Redis\'s texts, options checked before the time', async (t) => {
  await call('SET', 'k', 'v');
  t.is(await call('EXPIRE', 'k', '200', 'LT', 'GT'), '-ERR GT and LT options at the same time are not compatible');
  for (const pair of [['NX', 'GT'], ['NX', 'LT'], ['NX', 'XX']]) {
    t.is(await call('EXPIRE', 'k', '200', ...pair), '-ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  t.is(await call('EXPIRE', 'k', '200', 'XX', 'AB'), '-ERR Unsupported option AB');
  t.is(await call('EXPIRE', 'k', 'abc', 'AB'), '-ERR Unsupported option AB');
  t.is(await call('EXPIRE', 'k', ''), '-ERR value is not an integer or out of range');
  t.is(await call('EXPIRE', 'k', '1.5'), '-ERR value is not an integer or out of range');
  for (const n of ['9223370399119966', '9223372036854776', '10000000000000000', '-9223372036854776']) {
    t.is(await call('EXPIRE', 'k', n), "-ERR invalid expire time in 'expire' command", n);
  }
  t.is(await call('PEXPIRE', 'k', '9223372036854770000'), "-ERR invalid expire time in 'pexpire' command");
  t.is(await call('EXPIREAT', 'k', '9223372036854776'), "-ERR invalid expire time in 'expireat' command");
  t.is(await call('TTL', 'k'), -1, 'nothing changed');
  t.is(await call('EXPIRE', 'k'), "-ERR wrong number of arguments for 'expire' command");
  t.is(await call('TTL', 'k', 'x'), "-ERR wrong number of arguments for 'ttl' command");
});

test.serial('PERSIST removes an expiry: 1, or 0 when there is none or no key', async (t) => {
  await call('SET', 'k', 'v', 'EX', '50');
  t.is(await call('PERSIST', 'k'), 1);
  t.is(await call('TTL', 'k'), -1);
  t.is(await call('GET', 'k'), 'v');
  t.is(await call('PERSIST', 'k'), 0);
  t.is(await call('PERSIST', 'nope'), 0);
});
