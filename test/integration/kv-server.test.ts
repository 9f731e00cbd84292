import test from 'ava';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { startSs } from '../helpers/ss.js';
import { converse } from '../helpers/raw-resp.js';

// kv's server and connection commands (CONFIG, CLIENT REPLY, RESET, INFO) as redis-server 7 answers them.

/** Requests whose replies are the same bytes from redis-server and from kv. */
const CONFIG_SCRIPT = [
  'CONFIG SET notify-keyspace-events KEA',
  'CONFIG GET notify-keyspace-events',
  'CONFIG SET notify-keyspace-events gKE',
  'CONFIG GET notify-keyspace-events',
  'CONFIG SET notify-keyspace-events "$lshzxeKE"',
  'CONFIG GET notify-keyspace-events',
  'CONFIG SET notify-keyspace-events Exn',
  'CONFIG GET notify-keyspace-events',
  'CONFIG SET notify-keyspace-events KQ',
  'CONFIG SET notify-keyspace-events ""',
  'CONFIG GET notify-keyspace-events',
  'CONFIG SET maxmemory 10mb maxmemory-policy allkeys-lru',
  'CONFIG GET maxmemory',
  'CONFIG GET maxmemory-policy',
  'CONFIG SET MAXMEMORY 1k',
  'CONFIG GET maxmemory',
  'CONFIG SET maxmemory lots',
  'CONFIG SET maxmemory-policy bogus',
  'CONFIG SET maxmemory 2mb nosuch 1',
  'CONFIG SET maxmemory 1mb maxmemory 2mb',
  'CONFIG SET maxmemory 5mb notify-keyspace-events Q',
  'CONFIG GET maxmemory',
  'CONFIG SET maxmemory 0 maxmemory-policy noeviction',
  'CONFIG SET appendonly maybe',
  'CONFIG SET databases 4',
  'CONFIG SET slowlog-log-slower-than many',
  'CONFIG SET zset-max-ziplist-entries 64 lua-time-limit 100',
  'CONFIG GET zset-max-ziplist-entries',
  'CONFIG GET lua-time-limit',
  'CONFIG SET zset-max-ziplist-entries 128 lua-time-limit 5000',
  // The encoding limits: their bounds, units, and OBJECT ENCODING following them.
  'CONFIG SET zset-max-ziplist-entries -1',
  'CONFIG SET zset-max-listpack-entries abc',
  'CONFIG SET hash-max-listpack-value lots',
  'CONFIG SET hash-max-listpack-value 1kb set-max-intset-entries 1 zset-max-ziplist-entries 0',
  // One parameter a line: redis-server lists several in its hash table's order, seeded at random.
  'CONFIG GET set-max-intset-entries',
  'CONFIG GET zset-max-listpack-entries',
  'CONFIG GET hash-max-listpack-entries',
  'CONFIG GET hash-max-listpack-value',
  'ZADD zz 1 a',
  'OBJECT ENCODING zz',
  `HSET hh f ${'v'.repeat(70)}`,
  'OBJECT ENCODING hh',
  'SADD ss 1 2',
  'OBJECT ENCODING ss',
  'CONFIG SET hash-max-listpack-value 64 set-max-intset-entries 512 zset-max-ziplist-entries 128',
  'ZADD zz2 1 a',
  'OBJECT ENCODING zz2',
  'DEL zz zz2 hh ss',
  'CONFIG SET appendonly',
  'CONFIG SET appendonly no hz',
  'CONFIG GET',
  'CONFIG RESETSTAT',
  'CONFIG RESETSTAT now',
  'CONFIG NOPE',
];

const REPLY_SCRIPT = [
  'CLIENT REPLY OFF',
  'PING off',
  'SET k v',
  'CLIENT REPLY ON',
  'PING on',
  'CLIENT REPLY SKIP',
  'PING skipped',
  'PING replied',
  'CLIENT REPLY SOMETIMES',
  'CLIENT REPLY',
  'CLIENT SETNAME someone',
  'SUBSCRIBE ch',
  'GET k',
  'RESET',
  'CLIENT GETNAME',
  'GET k',
  'DEL k',
];

test('CONFIG SET, GET, RESETSTAT and CLIENT REPLY, RESET: byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  for (const script of [CONFIG_SCRIPT, REPLY_SCRIPT]) {
    const expected = await converse(redisPort, script);
    t.not(expected, '');
    t.is(await converse(ss.port, script), expected);
  }
});

test('CONFIG: a policy kv does not evict by is refused; maxmemory set low evicts at once by the policy', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  t.is(await converse(ss.port, ['CONFIG SET maxmemory-policy allkeys-lfu', 'CONFIG GET maxmemory-policy']),
    "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - kv evicts only by noeviction, allkeys-lru, volatile-lru\r\n"
    + '*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n');
  t.is(await converse(ss.port, ['SET a 1', 'SET b 2', 'CONFIG SET maxmemory-policy allkeys-lru maxmemory 1', 'DBSIZE', 'INFO stats']).then((r) => r.split('\r\n').filter((l) => /^[+:]|evicted_keys/.test(l)).join(' ')),
    '+OK +OK +OK :0 evicted_keys:2');
});

test('TIME: seconds and microseconds, now', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  const reply = await converse(ss.port, ['TIME', 'TIME now']);
  const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n-ERR wrong number of arguments for 'time' command\r\n$/.exec(reply);
  t.truthy(m, reply);
  t.true(Math.abs(Number(m![1]) - Date.now() / 1000) < 60);
  t.true(Number(m![2]) < 1e6);
});

/** The `# Section` titles of an INFO reply (a bulk string). */
const titles = (reply: string): string => reply.split('\r\n').filter((l) => l.startsWith('# ')).join(', ');

test('INFO: the sections of redis-server for no argument, default, all, everything, one or several (any case)', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  for (const args of ['', ' default', ' all', ' everything', ' cpu', ' commandSTATS', ' cpu sentinel', ' cpu default', ' keyspace cpu server', ' nosuch']) {
    t.is(titles(await converse(ss.port, [`INFO${args}`])), titles(await converse(redisPort, [`INFO${args}`])), `INFO${args}`);
  }
  const all = await converse(ss.port, ['INFO all']);
  t.regex(all, /\r\nused_cpu_user:\d+\.\d{6}\r\n/);
  t.regex(all, /\r\nused_cpu_sys:\d+\.\d{6}\r\n/);
  t.regex(all, /\r\nused_memory:\d+\r\n/);
  t.regex(all, /\r\nmaster_repl_offset:0\r\n/);
  t.notRegex(await converse(ss.port, ['INFO']), /rejected_calls/);
});

test('INFO commandstats and errorstats: calls, rejected and failed calls, error codes; CONFIG RESETSTAT clears them', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  await converse(ss.port, ['SET n x', 'GET n', 'GET n', 'GET', 'INCR n', 'NOSUCH', 'SUBSCRIBE c', 'GET n']);
  const stats = await converse(ss.port, ['INFO commandstats', 'INFO errorstats']);
  t.regex(stats, /\r\ncmdstat_get:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=2,failed_calls=0\r\n/);
  t.regex(stats, /\r\ncmdstat_incr:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=1\r\n/);
  t.regex(stats, /\r\ncmdstat_set:calls=1,/);
  t.regex(stats, /# Errorstats\r\nerrorstat_ERR:count=4\r\n/);
  t.notRegex(stats, /cmdstat_nosuch|cmdstat_info/);
  t.is(await converse(ss.port, ['CONFIG RESETSTAT']), '+OK\r\n');
  const after = await converse(ss.port, ['INFO commandstats', 'INFO errorstats']);
  t.notRegex(after, /cmdstat_get|errorstat_ERR/);
  t.regex(after, /cmdstat_config:calls=1,/);
});
