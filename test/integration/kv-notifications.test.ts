import test from 'ava';
import { startRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { runSs, startSs } from '../helpers/ss.js';
import { openPeer, type Peer } from '../helpers/raw-resp.js';

// Keyspace notifications (notify-keyspace-events): the events of commands and those the store
// makes (new, expired, evicted) published as redis-server publishes them, and to subscribers in
// other workers.


/** Steps: the subscriber's and the other connection's requests; what the subscriber receives at each. */
const SCRIPT: readonly (readonly ['sub' | 'cmd', string])[] = [
  ['cmd', 'CONFIG SET notify-keyspace-events KEnxe'],
  ['sub', 'PSUBSCRIBE *'],
  ['cmd', 'SET fresh 1'],
  ['cmd', 'SET fresh 2'],
  ['cmd', 'SET brief 1 PX 100'],
  ['cmd', 'CONFIG SET notify-keyspace-events Ex'],
  ['cmd', 'SET other 1'],
  ['cmd', 'SET short 1 PX 100'],
  ['cmd', 'CONFIG SET notify-keyspace-events Kn'],
  ['cmd', 'SET another 1'],
  ['cmd', 'CONFIG SET notify-keyspace-events KEA'],
  ['cmd', 'SET fresh 3'],
  ['cmd', 'EXPIRE fresh 100'],
  ['cmd', 'INCR counter'],
  ['cmd', 'DEL fresh counter'],
  ['cmd', 'CONFIG SET notify-keyspace-events Kg'],
  ['cmd', 'SET other 2 EX 100'],
  ['cmd', 'PERSIST other'],
  ['cmd', 'FLUSHALL'],
  ['cmd', 'CONFIG SET notify-keyspace-events KEe maxmemory-policy allkeys-lru'],
  ['cmd', 'SET victim 1'],
  ['cmd', 'CONFIG SET maxmemory 1'],
  ['cmd', 'CONFIG SET maxmemory 0 maxmemory-policy noeviction notify-keyspace-events ""'],
  ['cmd', 'SET quiet 1'],
];

async function transcript(port: number): Promise<string[]> {
  const sub = await openPeer(port);
  const cmd = await openPeer(port);
  const out: string[] = [];
  try {
    for (const [who, line] of SCRIPT) {
      (who === 'sub' ? sub : cmd).socket.write(`${line}\r\n`);
      // Long enough for a key set to expire in 100 ms to be found by the expire cycle (10 Hz in both).
      out.push(`${who}> ${line}`, `sub< ${JSON.stringify(await sub.take(line.includes('PX') ? 600 : 150))}`);
      await cmd.take(50);
    }
  } finally {
    sub.socket.destroy();
    cmd.socket.destroy();
  }
  return out;
}

test('events of commands, new, expired and evicted, masked by class, on __keyspace@0__ and __keyevent@0__: byte for byte as redis-server', async (t) => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  t.teardown(() => redis.kill('SIGKILL'));
  const expected = await transcript(redisPort);
  t.true(expected.some((l) => l.includes('evicted')) && expected.some((l) => l.includes('expired')) && expected.some((l) => l.includes('new')));
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '0']);
  t.deepEqual(await transcript(ss.port), expected);
});

/** The pid of the worker serving `peer` (INFO server's process_id). */
async function pidOf(peer: Peer): Promise<number> {
  peer.socket.write('INFO server\r\n');
  return Number(/process_id:(\d+)/.exec(await peer.take(100))?.[1]);
}

test('--notify-keyspace-events: events of one worker reach subscribers in another', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '2', '--balance', 'round-robin', '--notify-keyspace-events', 'Exn']);
  const peers: Peer[] = [];
  t.teardown(() => { for (const p of peers) p.socket.destroy(); });
  // Connections go to the workers in turn: two of the first few are served by different workers.
  let sub: Peer | undefined;
  let other: Peer | undefined;
  for (let i = 0; i < 8 && other === undefined; i++) {
    const peer = await openPeer(ss.port);
    peers.push(peer);
    const pid = await pidOf(peer);
    if (sub === undefined) sub = peer;
    else if (pid !== await pidOf(sub)) other = peer;
  }
  if (sub === undefined || other === undefined) return t.fail('no two connections on different workers');
  sub.socket.write('PSUBSCRIBE __keyevent@0__:*\r\n');
  t.is(await sub.take(), '*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n');
  other.socket.write('SET across 1 PX 100\r\n');
  t.is(await other.take(), '+OK\r\n');
  const events = await sub.take(600);
  t.is(events, '*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$18\r\n__keyevent@0__:new\r\n$6\r\nacross\r\n'
    + '*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n$22\r\n__keyevent@0__:expired\r\n$6\r\nacross\r\n');
});

test('a mistaken --notify-keyspace-events exits 2 naming the setting', async (t) => {
  const r = await runSs(['serve', '--plugin', 'resp', '--plugin', 'kv', '--notify-keyspace-events', 'KEQ']);
  t.is(r.code, 2);
  t.regex(r.stderr, /notify-keyspace-events.*KEQ.*Ag\$lshzxeKEtmdn/);
});
