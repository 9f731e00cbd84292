import test from 'ava';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { startSs } from '../helpers/ss.js';
import { openPeer } from '../helpers/raw-resp.js';
import { caller, type Plain } from '../helpers/kv-call.js';
import { sleep } from '../helpers/wait.js';

// MULTI, EXEC, DISCARD and WATCH as redis-server 7 answers them: one pipelined script sent to both, the
// replies compared byte for byte.

const SCRIPT = [
  'FLUSHALL', 'EXEC', 'DISCARD',
  // queued, run together at EXEC; an error inside the transaction (WRONGTYPE) is one of its replies
  'MULTI', 'MULTI', 'SET k 0', 'INCRBYFLOAT k 1.0', 'GET k', 'LPUSH k x', 'EXEC',
  // a command refused while queuing (unknown, wrong arity) discards the transaction at EXEC
  'MULTI', 'SET a 1', 'NOSUCH x', 'GET a', 'EXEC', 'GET a',
  'MULTI', 'GET', 'EXEC',
  // DISCARD and RESET drop what was queued
  'MULTI', 'SET b 1', 'DISCARD', 'GET b',
  'MULTI', 'PING', 'RESET', 'EXEC',
  // PUBLISH's count inside a transaction; an empty one
  'MULTI', 'PUBLISH ch m', 'EXEC', 'MULTI', 'EXEC',
  // WATCH: a change by the connection itself fails EXEC too; WATCH inside MULTI is refused, not queued
  'SET w 1', 'WATCH w', 'SET w 2', 'MULTI', 'SET w 3', 'EXEC', 'GET w',
  'WATCH w', 'MULTI', 'WATCH w', 'SET w 4', 'EXEC', 'GET w',
  'WATCH w', 'UNWATCH', 'SET w 5', 'MULTI', 'GET w', 'EXEC',
  'WATCH w', 'DEL nosuch', 'MULTI', 'GET w', 'EXEC',
  'WATCH w', 'SET w 6', 'MULTI', 'DISCARD', 'MULTI', 'GET w', 'EXEC',
  'WATCH', 'UNWATCH x', 'MULTI', 'UNWATCH', 'EXEC',
];

/** The bytes answered to SCRIPT (inline commands, one write). */
async function transcript(port: number): Promise<string> {
  const peer = await openPeer(port);
  try {
    return await peer.ask([...SCRIPT, ''].join('\r\n'));
  } finally {
    peer.close();
  }
}

test('MULTI, EXEC, DISCARD, WATCH: queued replies, EXECABORT, nesting and the errors byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  const expected = await transcript(redisPort);
  t.true(expected.includes('*4\r\n+OK\r\n$1\r\n1\r\n$1\r\n1\r\n-WRONGTYPE'), expected);
  t.is(await transcript(ss.port), expected);
});

/** WATCH against changes by another connection, a flush, an expiry: what EXEC answers each time. */
async function watching(port: number): Promise<Plain[]> {
  const a = await caller(port);
  const b = await caller(port);
  const out: Plain[] = [];
  const exec = async (...before: (() => Promise<unknown>)[]) => {
    for (const step of before) await step();
    await a.call('MULTI');
    await a.call('SET', 'w', 'tx');
    out.push(await a.call('EXEC'), await a.call('GET', 'w'));
  };
  try {
    await b.call('FLUSHALL');
    await b.call('SET', 'w', '1');
    await exec(() => a.call('WATCH', 'w'), () => b.call('SET', 'w', 'other')); // changed by another: nil
    await exec(() => a.call('WATCH', 'w', 'nosuch'), () => b.call('FLUSHALL')); // a flush of a watched key that held something
    await exec(() => a.call('WATCH', 'nosuch'), () => b.call('FLUSHALL')); // of keys that held nothing: runs
    await exec(() => b.call('SET', 'e', '1', 'PX', '100'), () => a.call('WATCH', 'e'), () => sleep(250)); // expired since: nil
    await exec(() => b.call('SET', 'e', '1', 'PX', '10'), () => sleep(100), () => a.call('WATCH', 'e'), () => b.call('GET', 'e')); // already expired: runs
    await exec(() => a.call('WATCH', 'w'), () => b.call('EXPIRE', 'w', '100')); // an expiry set is a change
    await exec(() => a.call('WATCH', 'w'), () => b.call('GET', 'w'), () => b.call('SET', 'w', 'x', 'NX')); // reads and refused writes are not
    await exec(() => a.call('WATCH', 'w'), () => b.call('RESET'), () => a.call('RESET'), () => b.call('SET', 'w', 'y')); // RESET unwatches
    return out;
  } finally {
    a.close();
    b.close();
  }
}

test('WATCH: another connection\'s change, a flush, an expiry fail EXEC (nil) as in redis-server; reads, refused writes, keys already expired do not', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  const expected = await watching(redisPort);
  t.deepEqual(expected.slice(0, 6), [null, 'other', null, null, ['+OK'], 'tx']);
  t.deepEqual(await watching(ss.port), expected);
});
