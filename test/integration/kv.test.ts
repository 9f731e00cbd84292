import test from 'ava';
import { execFile } from 'node:child_process';
import { startSs, type SsProcess } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

let ss: SsProcess;

test.before(async () => {
  ss = await startSs(['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
});
test.after.always(async () => {
  await ss?.stop();
});

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run a stock Redis tool against the server (killed after `timeout` ms); stdin is `input` when given. */
function run(file: string, args: string[], input?: Buffer, timeout = 10_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout, encoding: 'buffer', maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? Number(err.code) : 0, stdout, stderr: String(stderr) });
    });
    child.stdin!.end(input);
  });
}

/** `redis-cli -p PORT ARGS`, its stdout as text (not a tty: an error is followed by an empty line, an empty array is one). */
async function cli(...args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), ...args]);
  if (r.code !== 0) throw new Error(`redis-cli exited ${r.code}: ${r.stderr}`);
  return String(r.stdout);
}

test.serial('PING, ECHO, SET, GET, DEL, EXISTS, DBSIZE, FLUSHALL', async (t) => {
  t.is(await cli('FLUSHALL'), 'OK\n');
  t.is(await cli('PING'), 'PONG\n');
  t.is(await cli('ping', 'hello'), 'hello\n');
  t.is(await cli('ECHO', 'hi there'), 'hi there\n');
  t.is(await cli('SET', 'a', '1'), 'OK\n');
  t.is(await cli('set', 'b', '2'), 'OK\n', 'command names are case-insensitive');
  t.is(await cli('GET', 'a'), '1\n');
  t.is(await cli('GET', 'missing'), '\n');
  t.is(await cli('EXISTS', 'a', 'b', 'missing', 'a'), '3\n');
  t.is(await cli('DBSIZE'), '2\n');
  t.is(await cli('DEL', 'a', 'missing'), '1\n');
  t.is(await cli('EXISTS', 'a'), '0\n');
  t.is(await cli('FLUSHALL'), 'OK\n');
  t.is(await cli('DBSIZE'), '0\n');
});

test.serial('INCR, DECR, INCRBY and the not-an-integer errors', async (t) => {
  t.is(await cli('INCR', 'n'), '1\n');
  t.is(await cli('INCRBY', 'n', '41'), '42\n');
  t.is(await cli('DECR', 'n'), '41\n');
  t.is(await cli('GET', 'n'), '41\n');
  t.is(await cli('SET', 's', 'abc'), 'OK\n');
  t.is(await cli('INCR', 's'), 'ERR value is not an integer or out of range\n\n');
  t.is(await cli('INCRBY', 'n', '1.5'), 'ERR value is not an integer or out of range\n\n');
  t.is(await cli('SET', 'big', '9223372036854775807'), 'OK\n');
  t.is(await cli('INCR', 'big'), 'ERR increment or decrement would overflow\n\n');
});

test.serial('MSET and MGET', async (t) => {
  t.is(await cli('MSET', 'm1', 'x', 'm2', 'y'), 'OK\n');
  t.is(await cli('MGET', 'm1', 'nope', 'm2'), 'x\n\ny\n');
  t.is(await cli('MSET', 'm1', 'x', 'm2'), "ERR wrong number of arguments for 'mset' command\n\n");
});

test.serial('unknown commands and wrong arity: Redis 7 texts', async (t) => {
  t.is(await cli('FOO', 'a', 'b c'), "ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \n\n");
  t.is(await cli('nope'), "ERR unknown command 'nope', with args beginning with: \n\n");
  const long = 'x'.repeat(200);
  t.is(await cli('FOO', long, 'more'), `ERR unknown command 'FOO', with args beginning with: '${'x'.repeat(128)}' \n\n`);
  t.is(await cli('GET'), "ERR wrong number of arguments for 'get' command\n\n");
  t.is(await cli('GeT', 'a', 'b'), "ERR wrong number of arguments for 'get' command\n\n");
  t.is(await cli('SET', 'k'), "ERR wrong number of arguments for 'set' command\n\n");
});

test.serial('SET with EX, PX, NX and XX', async (t) => {
  t.is(await cli('SET', 'e', 'v', 'EX', '100'), 'OK\n');
  t.is(await cli('TTL', 'e'), '100\n');
  t.is(await cli('SET', 'e', 'v', 'NX'), '\n', 'NX on an existing key: null bulk');
  t.is(await cli('SET', 'fresh', 'v', 'NX'), 'OK\n');
  t.is(await cli('SET', 'absent', 'v', 'XX'), '\n', 'XX on a missing key: null bulk');
  t.is(await cli('SET', 'e', 'w', 'XX', 'PX', '50000'), 'OK\n');
  t.is(await cli('GET', 'e'), 'w\n');
  t.is(await cli('TTL', 'e'), '50\n');
  t.is(await cli('SET', 'e', 'v'), 'OK\n');
  t.is(await cli('TTL', 'e'), '-1\n', 'a plain SET clears the expiry');
  t.is(await cli('SET', 'e', 'v', 'NX', 'XX'), 'ERR syntax error\n\n');
  t.is(await cli('SET', 'e', 'v', 'EX', 'ten'), 'ERR value is not an integer or out of range\n\n');
  t.is(await cli('SET', 'e', 'v', 'EX', '0'), "ERR invalid expire time in 'set' command\n\n");
});

test.serial('expiry: PX 1500 is gone 2 s later; EXPIRE and TTL', async (t) => {
  // Long enough that a redis-cli started on a loaded machine still finds it before it expires.
  t.is(await cli('SET', 'short', 'v', 'PX', '1500'), 'OK\n');
  t.is(await cli('GET', 'short'), 'v\n');
  await sleep(2000);
  t.is(await cli('GET', 'short'), '\n');
  t.is(await cli('EXISTS', 'short'), '0\n');
  t.is(await cli('TTL', 'short'), '-2\n');
  t.is(await cli('SET', 'p', 'v'), 'OK\n');
  t.is(await cli('TTL', 'p'), '-1\n');
  t.is(await cli('EXPIRE', 'p', '30'), '1\n');
  t.is(await cli('TTL', 'p'), '30\n');
  t.is(await cli('EXPIRE', 'missing', '30'), '0\n');
  t.is(await cli('EXPIRE', 'p', 'x'), 'ERR value is not an integer or out of range\n\n');
  t.is(await cli('EXPIRE', 'p', '0'), '1\n');
  t.is(await cli('EXISTS', 'p'), '0\n');
});

test.serial('the sweep drops expired keys nobody reads', async (t) => {
  await cli('FLUSHALL');
  for (let i = 0; i < 3; i++) await cli('SET', `sw${i}`, 'v', 'PX', '400');
  t.is(await cli('DBSIZE'), '3\n');
  await sleep(700);
  t.is(await cli('DBSIZE'), '0\n', 'DBSIZE counts keys not yet swept, as in Redis');
});

test.serial('binary values: redis-cli -x SET from stdin, GET back', async (t) => {
  const value = Buffer.from([0, 255, 13, 10, 32, 0x80, 0x41, 0]);
  const set = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), '-x', 'SET', 'bin'], value);
  t.is(String(set.stdout), 'OK\n');
  const get = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), '--no-raw', 'GET', 'bin']);
  t.is(String(get.stdout), '"\\x00\\xff\\r\\n \\x80A\\x00"\n');
  const raw = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), 'GET', 'bin']);
  t.deepEqual(raw.stdout, Buffer.concat([value, Buffer.from('\n')]));
});

test.serial('a 1 MiB value', async (t) => {
  const value = Buffer.alloc(1 << 20, 'abcdefghij');
  const set = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), '-x', 'SET', 'large'], value);
  t.is(String(set.stdout), 'OK\n');
  const get = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), 'GET', 'large']);
  t.true(get.stdout.subarray(0, -1).equals(value));
});

test.serial('KEYS with Redis globs', async (t) => {
  await cli('FLUSHALL');
  await cli('MSET', 'hello', '1', 'hallo', '1', 'hxllo', '1', 'hllo', '1', 'heeeello', '1', 'h*llo', '1', 'other', '1');
  const keys = async (p: string) => (await cli('KEYS', p)).split('\n').filter(Boolean).sort();
  t.deepEqual(await keys('*'), ['h*llo', 'hallo', 'heeeello', 'hello', 'hllo', 'hxllo', 'other']);
  t.deepEqual(await keys('h?llo'), ['h*llo', 'hallo', 'hello', 'hxllo']);
  t.deepEqual(await keys('h*llo'), ['h*llo', 'hallo', 'heeeello', 'hello', 'hllo', 'hxllo']);
  t.deepEqual(await keys('h[ae]llo'), ['hallo', 'hello']);
  t.deepEqual(await keys('h[^e]llo'), ['h*llo', 'hallo', 'hxllo']);
  t.deepEqual(await keys('h[a-b]llo'), ['hallo']);
  t.deepEqual(await keys('h\\*llo'), ['h*llo']);
  t.deepEqual(await keys('nomatch*'), []);
});

test.serial('what clients ask at start: CONFIG GET, COMMAND, INFO, HELLO, CLIENT SETNAME, SELECT', async (t) => {
  t.is(await cli('CONFIG', 'GET', 'save'), 'save\n\n');
  t.is(await cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nno\n');
  t.is(await cli('CONFIG', 'GET', 'no-such-param'), '\n', 'an empty array');
  t.is(await cli('CONFIG', 'GET'), "ERR wrong number of arguments for 'config|get' command\n\n");
  t.is(await cli('COMMAND'), '\n');
  t.is(await cli('COMMAND', 'DOCS'), '\n');
  const info = await cli('INFO');
  t.regex(info, /^# Server\r?\n/);
  t.regex(info, /redis_version:7\.0\.0/);
  t.regex(info, /redis_mode:standalone/);
  t.regex(info, /process_id:\d+/);
  t.regex(info, new RegExp(`tcp_port:${ss.port}`));
  t.regex(info, /uptime_in_seconds:\d+/);
  t.regex(await cli('INFO', 'server'), /^# Server/);
  t.is(await cli('HELLO', '3'), 'NOPROTO unsupported protocol version\n\n');
  const hello = (await cli('HELLO')).split('\n');
  t.deepEqual(hello.slice(0, 6), ['server', 'redis', 'version', '7.0.0', 'proto', '2']);
  t.deepEqual(hello.slice(8, 12), ['mode', 'standalone', 'role', 'master']);
  t.is((await cli('HELLO', '2')).split('\n')[5], '2');
  t.is(await cli('CLIENT', 'SETNAME', 'me'), 'OK\n');
  t.is(await cli('SELECT', '0'), 'OK\n');
  t.is(await cli('SELECT', '1'), 'ERR DB index is out of range\n\n');
});

/** The tests redis-benchmark reported, one "NAME: N requests per second" line each. */
function benchmarkTests(out: string): string[] {
  return out.split(/[\r\n]/).map((l) => /^\s*([A-Z_]+): [\d.]+ requests per second/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
}

for (const pipeline of ['1', '16']) {
  test.serial(`redis-benchmark -t ping,set,get -n 20000 -P ${pipeline}`, async (t) => {
    const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(ss.port), '-t', 'ping,set,get', '-n', '20000', '-q', '-P', pipeline], undefined, 60_000);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(benchmarkTests(String(r.stdout)), ['PING_INLINE', 'PING_MBULK', 'SET', 'GET']);
  });
}
