import test from 'ava';
import { spawn } from 'node:child_process';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { startSs } from '../helpers/ss.js';
import { openPeer } from '../helpers/raw-resp.js';
import { sleep } from '../helpers/wait.js';

// kv's SUBSCRIBE family byte for byte as redis-server 7 answers over RESP2: the same script of
// commands on two connections, against a real redis-server and against ss, gives the same bytes.


/** Each step: which connection sends what; the transcript is what each step made both connections receive. */
const SCRIPT: readonly (readonly ['sub' | 'pub', string])[] = [
  ['sub', 'SUBSCRIBE news chat'],
  ['sub', 'SUBSCRIBE chat'],
  ['sub', 'PSUBSCRIBE n*'],
  ['pub', 'PUBLISH news hello'],
  ['pub', 'PUBLISH nope hi'],
  ['pub', 'PUBLISH other nobody'],
  ['sub', 'PING'],
  ['sub', 'PING there'],
  ['sub', 'GET k'],
  ['sub', 'SET k v'],
  ['pub', 'PUBSUB NUMSUB news chat other'],
  ['pub', 'PUBSUB NUMPAT'],
  ['pub', 'PUBSUB CHANNELS ne*'],
  ['pub', 'PUBSUB CHANNELS x y'],
  ['pub', 'PUBSUB NUMPAT extra'],
  ['pub', 'PUBSUB NOPE'],
  ['pub', 'PUBLISH onlychannel'],
  ['pub', 'SUBSCRIBE'],
  ['sub', 'UNSUBSCRIBE news chat'],
  ['sub', 'PUNSUBSCRIBE'],
  ['sub', 'UNSUBSCRIBE'],
  ['sub', 'PUNSUBSCRIBE'],
  ['sub', 'GET k'],
  ['pub', 'PUBLISH news late'],
];

async function transcript(port: number): Promise<string[]> {
  const sub = await openPeer(port);
  const pub = await openPeer(port);
  const out: string[] = [];
  try {
    for (const [who, command] of SCRIPT) {
      (who === 'sub' ? sub : pub).socket.write(`${command}\r\n`);
      out.push(`${who}> ${command}`, `sub< ${JSON.stringify(await sub.take(150, 5000))}`, `pub< ${JSON.stringify(await pub.take(150, 5000))}`);
    }
  } finally {
    sub.socket.destroy();
    pub.socket.destroy();
  }
  return out;
}

test('SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB and the subscribed context, byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const expected = await transcript(redisPort);
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  const got = await transcript(ss.port);
  t.deepEqual(got, expected);
});

test('redis-cli subscribe and psubscribe receive what is published, as from redis-server', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  const cli = spawn('redis-cli', ['-p', String(ss.port), 'psubscribe', 'news.*'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => cli.kill('SIGKILL'));
  let out = '';
  cli.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const waitFor = async (text: string) => {
    for (let i = 0; i < 100 && !out.includes(text); i++) await sleep(100);
    return out.includes(text);
  };
  t.true(await waitFor('psubscribe\nnews.*\n1\n'), out);
  const pub = await openPeer(ss.port);
  pub.socket.write('PUBLISH news.sport goal\r\nPUBLISH weather rain\r\n');
  t.is(await pub.take(150, 5000), ':1\r\n:0\r\n');
  t.true(await waitFor('pmessage\nnews.*\nnews.sport\ngoal\n'), out);
  t.false(out.includes('rain'));
  pub.socket.destroy();
});
