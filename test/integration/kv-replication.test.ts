import test from 'ava';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { respClient, RespError, type RespValue } from '@socketserver/plugin-resp';
import { caller, type Caller, type Plain } from '../helpers/kv-call.js';
import { freePort } from '../helpers/free-port.js';
import { startRedis } from '../helpers/redis-server.js';
import { eventually, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

const KV = ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0'];

/** A connection that became a replica: what SYNC or PSYNC answered, then the stream, value by value. */
interface Attached {
  /** PSYNC's `+FULLRESYNC replid offset` line ('' for SYNC). */
  readonly head: string;
  readonly rdb: Buffer;
  readonly socket: Socket;
  /** The next value of the stream (a command as its arguments, a reply as plain), within 10 s. */
  next(): Promise<Plain>;
  /** Send a command on the replica's connection. */
  send(...args: string[]): void;
}

function plain(v: RespValue): Plain {
  if (v instanceof RespError) return `-${v.message}`;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (typeof v === 'string') return `+${v}`;
  if (Array.isArray(v)) return v.map(plain);
  return v as Plain;
}

/**
 * Connect, send `command` (SYNC, or PSYNC ? -1) and read its reply: a line for PSYNC, `$length`,
 * the RDB; reading only after `pauseMs` (a replica slow to load the snapshot).
 */
function attach(port: number, command = 'SYNC', before: string[] = [], pauseMs = 0): Promise<Attached> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = respClient();
    let data = Buffer.alloc(0);
    let head: string | undefined;
    let rdb: Buffer | undefined;
    const values: Plain[] = [];
    const waiting: ((v: Plain) => void)[] = [];
    const timer = setTimeout(() => reject(new Error(`no snapshot within 10 s: ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`)), 10_000 + pauseMs);
    if (pauseMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    }
    // The snapshot's chunks, joined once it is whole (it may be tens of MB).
    let length = -1;
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      if (length >= 0 && rdb === undefined) {
        chunks.push(chunk);
        received += chunk.length;
        if (received < length) return;
        data = Buffer.concat(chunks);
      } else data = Buffer.concat([data, chunk]);
      for (;;) {
        if (rdb === undefined) {
          if (length < 0) {
            const eol = data.indexOf('\r\n');
            if (eol < 0) return;
            const line = data.subarray(0, eol).toString('latin1');
            data = data.subarray(eol + 2);
            if (line.startsWith('+') || line.startsWith('-')) {
              if (line.startsWith('+FULLRESYNC ')) head = line;
              else values.push(line); // the replies to what was sent before
              continue;
            }
            length = Number(line.slice(1));
            chunks.push(data);
            received = data.length;
          }
          if (received < length) return;
          rdb = Buffer.from(data.subarray(0, length));
          data = data.subarray(length);
          clearTimeout(timer);
          resolve({
            head: head ?? '', rdb, socket,
            next: () => (values.length > 0 ? Promise.resolve(values.shift()!) : new Promise<Plain>((res, rej) => {
              const t = setTimeout(() => rej(new Error('nothing more on the stream within 10 s')), 10_000);
              waiting.push((v) => { clearTimeout(t); res(v); });
            })),
            send: (...args) => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
          });
          continue;
        }
        const value = decoder.decodeAt(data, 0);
        if (value === undefined) return;
        data = data.subarray(decoder.next);
        const v = plain(value);
        const w = waiting.shift();
        if (w !== undefined) w(v);
        else values.push(v);
      }
    });
    socket.once('error', reject);
    for (const line of before) socket.write(`${line}\r\n`);
    socket.write(`${command}\r\n`);
  });
}

/** An absolute time in ms propagated for a TTL of `ttl` ms set between `from` and now. */
function absolute(t: { true(v: boolean, m?: string): void }, value: Plain, from: number, ttl: number): void {
  const at = Number(value);
  t.true(at >= from + ttl && at <= Date.now() + ttl, `${String(value)} is ${ttl} ms after a moment of the command`);
}

test('SYNC: an RDB, then SELECT 0 and each change as Redis propagates it (TTLs absolute, GETDEL as DEL…); reads and refused writes not at all', async (t) => {
  const ss = await startSs(t, KV);
  const c = await caller(ss.port);
  t.teardown(() => c.close());
  const replica = await attach(ss.port);
  t.teardown(() => replica.socket.destroy());
  t.is(replica.rdb.subarray(0, 9).toString('latin1'), 'REDIS0010');
  t.is(replica.rdb[replica.rdb.length - 9], 0xff, 'the RDB ends with EOF and its checksum');

  const expect = async (command: (string | number)[], ...wanted: (string | ((v: Plain) => void))[][]): Promise<void> => {
    await c.call(...command);
    for (const w of wanted) {
      const got = await replica.next() as Plain[];
      t.true(Array.isArray(got), `${command.join(' ')}: ${JSON.stringify(got)}`);
      t.is(got.length, w.length, `${command.join(' ')}: ${JSON.stringify(got)}`);
      w.forEach((part, i) => (typeof part === 'string' ? t.is(got[i], part, `${command.join(' ')}: ${JSON.stringify(got)}`) : part(got[i]!)));
    }
  };
  let from = Date.now();
  const at = (ttl: number) => (v: Plain) => absolute(t, v, from, ttl);
  await expect(['SET', 'foo', 'bar', 'EX', 200], ['SELECT', '0'], ['SET', 'foo', 'bar', 'PXAT', at(200_000)]);
  from = Date.now();
  await expect(['SETEX', 'foo', 100, 'bar'], ['SET', 'foo', 'bar', 'PXAT', at(100_000)]);
  from = Date.now();
  await expect(['PSETEX', 'foo', 5000, 'bar'], ['SET', 'foo', 'bar', 'PXAT', at(5000)]);
  await expect(['SET', 'foo', 'bar', 'PXAT', 4102444800000, 'XX'], ['SET', 'foo', 'bar', 'PXAT', '4102444800000']);
  await expect(['SET', 'k', 'v', 'GET'], ['SET', 'k', 'v']);
  await c.call('SET', 'k', 'other', 'NX'); // refused: nothing
  await c.call('GET', 'k'); // a read: nothing
  await c.call('GETEX', 'k'); // no option: nothing
  from = Date.now();
  await expect(['EXPIRE', 'k', 100, 'NX'], ['PEXPIREAT', 'k', at(100_000), 'NX']);
  await expect(['GETEX', 'k', 'PERSIST'], ['PERSIST', 'k']);
  from = Date.now();
  await expect(['GETEX', 'k', 'PX', 5000], ['PEXPIREAT', 'k', at(5000)]);
  await expect(['GETEX', 'k', 'EXAT', 1], ['DEL', 'k']);
  await c.call('SET', 'k', 'v');
  await replica.next();
  await expect(['EXPIREAT', 'k', 1], ['DEL', 'k']);
  await expect(['INCRBYFLOAT', 'f', '1.5'], ['SET', 'f', '1.5', 'KEEPTTL']);
  await expect(['GETSET', 'f', 'x'], ['SET', 'f', 'x']);
  await expect(['GETDEL', 'f'], ['DEL', 'f']);
  await expect(['SET', 'gone', 'x', 'PX', 1], ['SET', 'gone', 'x', 'PXAT', (v) => t.true(Number(v) > 0)]);
  await sleep(20);
  await expect(['GET', 'gone'], ['DEL', 'gone']); // found expired: a DEL, and no GET
  await c.call('MULTI');
  await c.call('SET', 'a', '1');
  await c.call('GET', 'a');
  await c.call('SADD', 's', 'm');
  await expect(['EXEC'], ['MULTI'], ['SET', 'a', '1'], ['SADD', 's', 'm'], ['EXEC']);
  await c.call('MULTI');
  await c.call('INCR', 'a');
  await c.call('GET', 'a');
  await expect(['EXEC'], ['INCR', 'a']); // one change: no MULTI around it
  await expect(['XADD', 'x', '5-1', 'f', 'v'], ['XADD', 'x', '5-1', 'f', 'v']);
  await expect(['XADD', 'x', '*', 'f', 'v'], ['XADD', 'x', (v) => t.regex(String(v), /^\d{13}-0$/), 'f', 'v']); // the ID made, not '*'
  const payload = String(await c.call('DUMP', 'a'));
  from = Date.now();
  await expect(['RESTORE', 'r', 100000, payload], ['RESTORE', 'r', at(100_000), payload, 'ABSTTL']); // the TTL absolute
  await expect(['PUBLISH', 'news', 'hello'], ['PUBLISH', 'news', 'hello']); // for the replica's subscribers
  await expect(['FLUSHALL'], ['FLUSHALL']);
  await expect(['SET', 'last', '1'], ['SET', 'last', '1']); // and nothing came between
});

test('PSYNC: +FULLRESYNC with the stream id and offset; REPLCONF options, errors and ACK (no reply); INFO replication lists the replica until it leaves', async (t) => {
  const ss = await startSs(t, KV);
  const c = await caller(ss.port);
  t.teardown(() => c.close());
  t.is(await c.call('REPLCONF', 'nope', '1'), '-ERR Unrecognized REPLCONF option: nope');
  t.is(await c.call('REPLCONF', 'listening-port'), '-ERR syntax error');
  t.is(await c.call('REPLCONF', 'listening-port', 'x'), '-ERR value is not an integer or out of range');
  await c.call('SET', 'before', '1');
  const info = async () => String(await c.call('INFO', 'replication'));
  const offset = /master_repl_offset:(\d+)/.exec(await info())![1];
  const replid = /master_replid:([0-9a-f]{40})/.exec(await info())![1];
  const replica = await attach(ss.port, 'PSYNC ? -1', ['REPLCONF listening-port 6390', 'REPLCONF ip-address 10.1.2.3', 'REPLCONF capa eof capa psync2']);
  t.teardown(() => replica.socket.destroy());
  t.is(replica.head, `+FULLRESYNC ${replid} ${offset}`);
  t.deepEqual([await replica.next(), await replica.next(), await replica.next()], ['+OK', '+OK', '+OK'], 'the REPLCONFs before it');
  replica.send('REPLCONF', 'ACK', '0'); // answered with nothing
  replica.send('PING');
  t.is(await replica.next(), '+PONG');
  t.regex(await info(), /connected_slaves:1\r\nslave0:ip=10\.1\.2\.3,port=6390,state=online,offset=0,lag=\d+\r\n/);
  await c.call('SET', 'k', 'v');
  t.deepEqual([await replica.next(), await replica.next()], [['SELECT', '0'], ['SET', 'k', 'v']]);
  // Each command counts its bytes: SELECT 0 (23) and SET k v (27).
  t.regex(await info(), new RegExp(`master_repl_offset:${Number(offset) + 23 + 27}\r\n`));
  replica.socket.destroy();
  await eventually(async () => (await info()).includes('connected_slaves:0') || undefined, 'the replica to be forgotten');
});

test('a snapshot larger than the push output limit: the stream waits until it is written, and the replica is not taken for a slow consumer', async (t) => {
  const ss = await startSs(t, [...KV, '--push-output-limit', '2mb']);
  const c = await caller(ss.port);
  t.teardown(() => c.close());
  // Random text, which the RDB cannot compress: 24 MiB of it.
  for (let i = 0; i < 24; i++) await c.call('SET', `big${i}`, randomBytes(768 * 1024).toString('base64'));
  const attaching = attach(ss.port, 'SYNC', [], 1500);
  await sleep(500); // the snapshot is being written, most of it unread
  for (let i = 0; i < 50; i++) await c.call('SET', `k${i}`, String(i));
  const replica = await attaching;
  t.teardown(() => replica.socket.destroy());
  t.true(replica.rdb.length > 23 * 1024 * 1024, `an RDB of ${replica.rdb.length} bytes`);
  t.deepEqual(await replica.next(), ['SELECT', '0']);
  for (let i = 0; i < 50; i++) t.deepEqual(await replica.next(), ['SET', `k${i}`, String(i)]);
  await c.call('SET', 'after', '1');
  t.deepEqual(await replica.next(), ['SET', 'after', '1']);
});

test('repl-ping-replica-period: a replica hears PING that often (no SELECT before it)', async (t) => {
  const ss = await startSs(t, KV);
  const c = await caller(ss.port);
  t.teardown(() => c.close());
  t.is(await c.call('CONFIG', 'SET', 'repl-ping-replica-period', '1'), '+OK');
  const replica = await attach(ss.port);
  t.teardown(() => replica.socket.destroy());
  t.deepEqual(await replica.next(), ['PING']);
  t.deepEqual(await replica.next(), ['PING']);
});

/** redis-server's answers on `port`, plain. */
async function replicaOf(t: { teardown(f: () => void): void }, port: number): Promise<Caller> {
  const r = await caller(port);
  t.teardown(() => r.close());
  return r;
}

test('a real redis-server replicates kv: the data already there, then every change, TTLs included', async (t) => {
  const ss = await startSs(t, KV);
  const c = await caller(ss.port);
  t.teardown(() => c.close());
  await c.call('SET', 'early', 'here', 'EX', '1000');
  await c.call('XADD', 'stream', '1-1', 'f', 'v');
  await c.call('XGROUP', 'CREATE', 'stream', 'g', '0');
  await c.call('XREADGROUP', 'GROUP', 'g', 'bob', 'STREAMS', 'stream', '>');
  const port = await freePort();
  const redis = await startRedis(port, ['--replicaof', '127.0.0.1', String(ss.port)]);
  t.teardown(() => redis.kill('SIGKILL'));
  const r = await replicaOf(t, port);
  await eventually(async () => String(await r.call('INFO', 'replication')).includes('master_link_status:up') || undefined, 'the replica to be in sync', 20_000);
  await c.call('SET', 's', 'v', 'PX', '100000');
  await c.call('RPUSH', 'l', 'a', 'b', 'c');
  await c.call('LPOP', 'l');
  await c.call('HSET', 'h', 'f', 'v', 'g', 'w');
  await c.call('SADD', 'st', '1', '2', 'x');
  await c.call('ZADD', 'z', '1.5', 'a', '2', 'b');
  await c.call('INCRBYFLOAT', 'n', '0.1');
  await c.call('INCRBYFLOAT', 'n', '0.2');
  await c.call('SET', 'gone', 'x');
  await c.call('EXPIREAT', 'gone', '1');
  await c.call('XADD', 'stream', '*', 'made', 'here');
  await c.call('XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 'stream', '>'); // a delivery: no event, still a change
  await c.call('XACK', 'stream', 'g', '1-1');
  await c.call('SET', 'done', '1');
  await eventually(async () => (await r.call('GET', 'done')) === '1' || undefined, 'the last change to reach the replica');
  t.is(await r.call('GET', 'early'), 'here', 'what kv held before the replica came, from the RDB');
  const early = Number(await r.call('TTL', 'early'));
  t.true(early > 900 && early <= 1000, `TTL ${early}`);
  t.is(await r.call('GET', 's'), 'v');
  const pttl = Number(await r.call('PTTL', 's'));
  t.true(pttl > 90_000 && pttl <= 100_000, `PTTL ${pttl}`);
  t.deepEqual(await r.call('LRANGE', 'l', '0', '-1'), ['b', 'c']);
  t.deepEqual(await r.call('HGETALL', 'h'), ['f', 'v', 'g', 'w']);
  t.deepEqual((await r.call('SMEMBERS', 'st') as string[]).sort(), ['1', '2', 'x']);
  t.deepEqual(await r.call('ZRANGE', 'z', '0', '-1', 'WITHSCORES'), ['a', '1.5', 'b', '2']);
  t.is(await r.call('GET', 'n'), await c.call('GET', 'n'));
  t.is(await r.call('EXISTS', 'gone'), 0);
  t.deepEqual(await r.call('XRANGE', 'stream', '-', '+'), await c.call('XRANGE', 'stream', '-', '+'), 'the ID XADD * made, not the replica\'s own');
  t.deepEqual(await r.call('XPENDING', 'stream', 'g'), await c.call('XPENDING', 'stream', 'g'));
  t.is(await r.call('DBSIZE'), await c.call('DBSIZE'));
});
