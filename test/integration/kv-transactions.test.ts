import test from 'ava';
import { connect } from 'node:net';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { startSs } from '../helpers/ss.js';

// MULTI, EXEC and DISCARD as redis-server 7 answers them: one pipelined script sent to both, the
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
];

/** The bytes answered to SCRIPT (inline commands, one write), up to the reply to a final ECHO. */
function transcript(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const marker = '$4\r\ndone\r\n';
    let got = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no full reply within 10 s: ${JSON.stringify(got)}`)); }, 10_000);
    const socket = connect(port, '127.0.0.1', () => socket.write([...SCRIPT, 'ECHO done', ''].join('\r\n')));
    socket.setEncoding('latin1').on('data', (d: string) => {
      got += d;
      if (got.endsWith(marker)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got.slice(0, -marker.length));
      }
    });
    socket.once('error', reject);
  });
}

test('MULTI, EXEC, DISCARD: queued replies, EXECABORT, nesting and the errors byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  const expected = await transcript(redisPort);
  t.true(expected.includes('*4\r\n+OK\r\n$1\r\n1\r\n$1\r\n1\r\n-WRONGTYPE'), expected);
  t.is(await transcript(ss.port), expected);
});
