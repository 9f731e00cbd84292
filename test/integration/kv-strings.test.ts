import test from 'ava';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { startSs, type SsProcess } from '../helpers/ss.js';
import { encodeCommand, openPeer, type Peer } from '../helpers/raw-resp.js';
import { sleep } from '../helpers/wait.js';

/** The replies to `commands`, sent in one write, as one string. */
const send = (c: Peer, ...commands: readonly (readonly (string | Buffer)[])[]): Promise<string> => c.ask(Buffer.concat(commands.map(encodeCommand)));

// kv's string commands as redis-server 7 answers them: a script of commands against both, reply
// by reply byte for byte; then what the script cannot compare (times to live, pipelining).

let ss: SsProcess;

test.before(async () => {
  ss = await startSs(['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
});
test.after.always(async () => {
  await ss?.stop();
});

const BIG_OFFSET = String(512 * 1024 * 1024 - 4);
const SCRIPT: readonly (readonly string[])[] = [
  ['FLUSHALL'],
  // SET's options, GET, and the expiry checks
  ['SET', 'k', 'v1', 'GET'], ['SET', 'k', 'v2', 'GET'], ['SET', 'k', 'v3', 'NX', 'GET'], ['SET', 'k', 'v4', 'XX', 'GET'], ['GET', 'k'],
  ['SET', 'nope', 'v', 'XX', 'GET'], ['EXISTS', 'nope'], ['SET', 'k', 'v', 'NX'], ['SET', 'k', 'v', 'XX'],
  ['SET', 'k', 'v', 'EX', '10000000000000000'], ['SET', 'k', 'v', 'PX', '9223372036854775807'], ['SET', 'k', 'v', 'EX', '0'],
  ['SET', 'k', 'v', 'EX', 'abc'], ['SET', 'k', 'v', 'EX', 'abc', 'FOO'], ['SET', 'k', 'v', 'EX'], ['SET', 'k', 'v', 'NX', 'XX'],
  ['SET', 'k', 'v', 'KEEPTTL', 'EX', '5'], ['SET', 'k', 'v', 'EX', '5', 'PX', '5'], ['SET', 'k', 'v', 'PERSIST'], ['SET', 'k', 'v', 'EX', '1', 'EX', '100'],
  ['SET', 'k', 'v', 'PXAT', '1'], ['GET', 'k'],
  ['SETEX', 'k', '10000000000000000', 'v'], ['SETEX', 'k', '-1', 'v'], ['SETEX', 'k', 'x', 'v'], ['SETEX', 'k', '100', 'v'], ['PSETEX', 'k', '0', 'v'],
  ['SETNX', 'n', 'a'], ['SETNX', 'n', 'b'], ['GET', 'n'], ['GETSET', 'n', 'c'], ['GETSET', 'fresh', 'c'], ['GETDEL', 'n'], ['GETDEL', 'n'],
  ['MSETNX', 'a', '1', 'b', '2'], ['MSETNX', 'a', '3', 'c', '4'], ['MGET', 'a', 'b', 'c'], ['MSETNX', 'a', '1', 'b'], ['MSETNX', 'x', '1', 'x', '2'], ['GET', 'x'],
  // GETEX
  ['SET', 'g', 'v'], ['GETEX', 'g'], ['GETEX', 'g', 'PERSIST'], ['GETEX', 'g', 'EX', '100', 'PERSIST'], ['GETEX', 'g', 'NX'], ['GETEX', 'g', 'EX'],
  ['GETEX', 'g', 'EX', '0'], ['GETEX', 'g', 'PX', 'x'], ['GETEX', 'g', 'EX', '10000000000000000'], ['GETEX', 'missing', 'EX', '0'], ['GETEX', 'g', 'EXAT', '1'], ['EXISTS', 'g'],
  // counters
  ['SET', 'i', '10'], ['INCR', 'i'], ['DECRBY', 'i', '-9223372036854775808'], ['INCRBY', 'i', '9223372036854775807'], ['INCRBY', 'i', '1.5'], ['SET', 'i', ' 1'], ['INCR', 'i'],
  ['DEL', 'f'], ['INCRBYFLOAT', 'f', '0.1'], ['INCRBYFLOAT', 'f', '0.2'], ['INCRBYFLOAT', 'f', '-0.3'], ['INCRBYFLOAT', 'f', '1e4932'], ['INCRBYFLOAT', 'f', '1e5000'],
  ['INCRBYFLOAT', 'f', '+inf'], ['INCRBYFLOAT', 'f', 'nan'], ['INCRBYFLOAT', 'f', ' 1'], ['INCRBYFLOAT', 'f', '0x1p3'], ['INCRBYFLOAT', 'f', '1.5e-7'], ['INCRBYFLOAT', 'f', '17179869184'],
  ['SET', 'f', '1'], ['SETRANGE', 'f', '2', '2'], ['INCRBYFLOAT', 'f', '1'],
  // STRLEN, APPEND, GETRANGE, SUBSTR, SETRANGE
  ['STRLEN', 'none'], ['SET', 's', '-555'], ['STRLEN', 's'], ['APPEND', 'ap', ''], ['EXISTS', 'ap'], ['APPEND', 'ap', 'Hello'], ['APPEND', 'ap', ' World'], ['GET', 'ap'],
  ['GETRANGE', 'ap', '0', '3'], ['GETRANGE', 'ap', '-4', '-1'], ['GETRANGE', 'ap', '5', '3'], ['GETRANGE', 'ap', '-1', '-5'], ['GETRANGE', 'ap', '-5000', '10000'],
  ['GETRANGE', 'ap', '0', '4294967297'], ['GETRANGE', 'ap', 'x', '1'], ['SUBSTR', 'ap', '6', '-1'], ['GETRANGE', 'none', '0', '-1'],
  ['SETRANGE', 'r', '0', ''], ['EXISTS', 'r'], ['SETRANGE', 'r', '1', 'foo'], ['GET', 'r'], ['SETRANGE', 'r', '6', 'bar'], ['GET', 'r'], ['SETRANGE', 'r', '0', 'F'], ['GET', 'r'],
  ['SETRANGE', 'r', '-1', 'x'], ['SETRANGE', 'r', BIG_OFFSET, 'world'], ['SETRANGE', 'r2', BIG_OFFSET, 'world'], ['SETRANGE', 'r', '9223372036854775807', 'A'], ['SETRANGE', 'r', '1', ''],
  // SETBIT, GETBIT
  ['SETBIT', 'b', '1', '1'], ['GET', 'b'], ['SETBIT', 'b', '2', '1'], ['SETBIT', 'b', '1', '0'], ['GET', 'b'], ['SETBIT', 'b', '20', '1'], ['GET', 'b'],
  ['GETBIT', 'b', '2'], ['GETBIT', 'b', '3'], ['GETBIT', 'b', '10000'], ['GETBIT', 'none', '0'],
  ['SETBIT', 'b', '4294967296', '1'], ['SETBIT', 'b', '-1', '1'], ['SETBIT', 'b', '0', '2'], ['SETBIT', 'b', '0', '-1'], ['GETBIT', 'b', '4294967296'],
  // LCS
  ['MSET', 'l1', 'ohmytext', 'l2', 'mynewtext'], ['LCS', 'l1', 'l2'], ['LCS', 'l1', 'l2', 'LEN'], ['LCS', 'l1', 'l2', 'IDX'],
  ['LCS', 'l1', 'l2', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN'], ['LCS', 'l1', 'l2', 'LEN', 'IDX'], ['LCS', 'l1', 'l2', 'MINMATCHLEN'], ['LCS', 'l1', 'l2', 'FOO'],
  ['LCS', 'l1', 'none'], ['LCS', 'none', 'none', 'IDX'],
  // OBJECT ENCODING: a string changed in place (APPEND, SETRANGE, SETBIT) is raw; SET anew starts again
  ['SET', 'e', '1234'], ['OBJECT', 'ENCODING', 'e'], ['SETRANGE', 'e', '0', ''], ['OBJECT', 'ENCODING', 'e'],
  ['SETRANGE', 'e', '1', '3'], ['OBJECT', 'ENCODING', 'e'], ['SET', 'e', 'abc'], ['OBJECT', 'ENCODING', 'e'],
  ['APPEND', 'e', 'd'], ['OBJECT', 'ENCODING', 'e'], ['SET', 'e', '7'], ['SETBIT', 'e', '1', '1'], ['OBJECT', 'ENCODING', 'e'],
  // arity
  ['GETEX'], ['SETEX', 'k', '1'], ['LCS', 'a'], ['MSETNX', 'a'], ['GETBIT', 'b'], ['SUBSTR', 'a', '1'],
];

test.serial('string commands: replies and error texts byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const transcript = async (port: number): Promise<string[]> => {
    const c = await openPeer(port);
    try {
      const out: string[] = [];
      for (const command of SCRIPT) out.push(`${command.join(' ')} -> ${JSON.stringify(await send(c, command))}`);
      return out;
    } finally {
      c.close();
    }
  };
  const expected = await transcript(redisPort);
  t.deepEqual(await transcript(ss.port), expected);
});

test.serial('expiry options set the time to live: SET, GETEX, SETEX, PSETEX', async (t) => {
  const c = await openPeer(ss.port);
  t.teardown(() => c.close());
  const now = Date.now();
  t.is(await send(c, ['SET', 'e', 'v', 'EX', '100'], ['TTL', 'e']), '+OK\r\n:100\r\n');
  t.is(await send(c, ['SET', 'e', 'v', 'KEEPTTL'], ['TTL', 'e']), '+OK\r\n:100\r\n');
  t.is(await send(c, ['SET', 'e', 'v'], ['TTL', 'e']), '+OK\r\n:-1\r\n', 'a plain SET clears the time to live');
  t.is(await send(c, ['GETEX', 'e', 'PX', '50000'], ['TTL', 'e']), '$1\r\nv\r\n:50\r\n');
  t.is(await send(c, ['GETEX', 'e', 'EXAT', String(Math.floor(now / 1000) + 200)], ['TTL', 'e']).then((r) => /:(199|200)\r\n$/.test(r)), true);
  t.is(await send(c, ['GETEX', 'e', 'PXAT', String(now + 300_000)], ['TTL', 'e']).then((r) => /:(299|300)\r\n$/.test(r)), true);
  t.is(await send(c, ['GETEX', 'e', 'PERSIST'], ['TTL', 'e']), '$1\r\nv\r\n:-1\r\n');
  t.is(await send(c, ['SETEX', 'e', '30', 'w'], ['TTL', 'e'], ['GET', 'e']), '+OK\r\n:30\r\n$1\r\nw\r\n');
  t.is(await send(c, ['PSETEX', 'e', '40000', 'x'], ['TTL', 'e']), '+OK\r\n:40\r\n');
  t.is(await send(c, ['SETRANGE', 'e', '0', 'y'], ['APPEND', 'e', 'z'], ['INCRBYFLOAT', 'n', '1'], ['TTL', 'e']), ':1\r\n:2\r\n$1\r\n1\r\n:40\r\n', 'changes in place keep it');
  t.is(await send(c, ['GETSET', 'e', 'q'], ['TTL', 'e']), '$2\r\nyz\r\n:-1\r\n', 'GETSET clears it');
  t.is(await send(c, ['SET', 'p', 'v', 'PX', '100'], ['SETNX', 'p', 'again']), '+OK\r\n:0\r\n');
  await sleep(300);
  t.is(await send(c, ['SETNX', 'p', 'again'], ['GET', 'p']), ':1\r\n$5\r\nagain\r\n', 'an expired key is gone for SETNX');
});

test.serial('pipelined: a value grown or changed after a GET in the same batch leaves that reply as it was', async (t) => {
  const c = await openPeer(ss.port);
  t.teardown(() => c.close());
  const replies = await send(c, 
    ['SET', 'p', 'abc'], ['APPEND', 'p', 'd'], ['GET', 'p'], ['APPEND', 'p', 'e'], ['GET', 'p'], ['GETRANGE', 'p', '1', '2'],
    ['SETRANGE', 'p', '0', 'Z'], ['SETBIT', 'p', '7', '1'], ['GET', 'p'], ['SETRANGE', 'p', '7', 'x'], ['SETBIT', 'p', '70', '1'], ['GET', 'p'],
  );
  t.is(replies, [
    '+OK', ':4', '$4\r\nabcd', ':5', '$5\r\nabcde', '$2\r\nbc',
    ':5', ':0', '$5\r\n[bcde', ':8', ':0', '$9\r\n[bcde\x00\x00x\x02',
  ].join('\r\n') + '\r\n');
  // Two keys sharing nothing: growing one never shows in the other.
  t.is(await send(c, ['SET', 'q1', 'x'], ['APPEND', 'q1', 'y'], ['APPEND', 'q1', 'z'], ['SET', 'q2', 'x'], ['APPEND', 'q2', 'Y'], ['MGET', 'q1', 'q2']),
    '+OK\r\n:2\r\n:3\r\n+OK\r\n:2\r\n*2\r\n$3\r\nxyz\r\n$2\r\nxY\r\n');
});

test.serial('LCS over strings of thousands of bytes; a table past 512 MB is refused', async (t) => {
  const c = await openPeer(ss.port);
  t.teardown(() => c.close());
  const a = 'ACGT'.repeat(1000);
  const b = `xx${'ACGT'.repeat(500)}yy${'ACGT'.repeat(500)}`;
  t.is(await send(c, ['MSET', 'la', a, 'lb', b], ['LCS', 'la', 'lb', 'LEN']), '+OK\r\n:4000\r\n');
  t.is(await send(c, ['LCS', 'la', 'lb', 'IDX', 'MINMATCHLEN', '100', 'WITHMATCHLEN']),
    '*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:2000\r\n:3999\r\n*2\r\n:2004\r\n:4003\r\n:2000\r\n*3\r\n*2\r\n:0\r\n:1999\r\n*2\r\n:2\r\n:2001\r\n:2000\r\n$3\r\nlen\r\n:4000\r\n');
  const big = 'x'.repeat(12_000);
  t.is(await send(c, ['MSET', 'la', big, 'lb', big], ['LCS', 'la', 'lb']),
    '+OK\r\n-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n');
});
