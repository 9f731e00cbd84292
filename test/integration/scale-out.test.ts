import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { eventually, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { bridged, startRedis } from '../helpers/redis-server.js';
import { Redis } from 'ioredis';

// Two ss servers (2 workers each, PROXY v2) behind one HAProxy (mode tcp, leastconn,
// send-proxy-v2, redis-check health checks sent with the PROXY LOCAL command), all on
// loopback. HAProxy comes from Debian (.ci/run installs it).
const HANDLER = './test/fixtures/runtime/peer-handler.mjs';
const HAPROXY = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;

/** One inline RESP command over a fresh connection from `localAddress`: the reply's payload. */
function ask(port: number, command: string, localAddress = '127.0.0.1', timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let got = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`timed out (${JSON.stringify(got)})`)); }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (s: string) => {
      got += s;
      const m = /^(?:\$\d+\r\n(.*)\r\n|[:+](.*)\r\n)$/s.exec(got);
      if (m) { clearTimeout(timer); socket.end(); resolve(m[1] ?? m[2]!); }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`closed after ${JSON.stringify(got)}`)); });
  });
}

/** The README's HAProxy config (Deploying › Behind a load balancer), on the test's ports. */
function haproxyConfig(front: number, a: number, b: number): string {
  return [
    'global', '  maxconn 512', '  log stderr format raw local0 info',
    'defaults', '  mode tcp', '  log global', '  option tcplog', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s',
    '  retries 3', '  option redispatch',
    'frontend front', `  bind 127.0.0.1:${front}`, '  default_backend ss',
    'backend ss', '  balance leastconn', '  option redis-check',
    `  server a 127.0.0.1:${a} send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1`,
    `  server b 127.0.0.1:${b} send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1`,
    '',
  ].join('\n');
}

async function startHaproxy(t: ExecutionContext, config: string): Promise<{ child: ChildProcess; log: () => string }> {
  const file = join(tempDir(t, 'haproxy'), 'haproxy.cfg');
  writeFileSync(file, config);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
  t.teardown(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  child.once('exit', (code) => { if (code !== null && code !== 0) console.error(`haproxy exited ${code}: ${err}`); });
  return { child, log: () => err };
}

// --accept-grace 1: on TERM, a server goes on serving for a second while it fails HAProxy's
// health checks (sent with PROXY LOCAL), so HAProxy has stopped sending it connections when
// its listeners close (closing resets the connections queued in them).
const serve = (t: ExecutionContext, port: number) => startSs(t, ['--plugin', 'resp', '--workers', '2', '--handler', HANDLER,
  '--proxy-protocol', 'v2', '--accept-grace', '1', '--bind', `127.0.0.1:${port}`]);

/** Which server each of its workers' pids belongs to. */
async function pidsOf(servers: Record<'a' | 'b', SsProcess>): Promise<Map<string, 'a' | 'b'>> {
  const map = new Map<string, 'a' | 'b'>();
  for (const name of ['a', 'b'] as const) {
    for (const w of (await ssInfo(servers[name].pid)).workers ?? []) map.set(String(w.pid), name);
  }
  return map;
}

test.serial(`two ss servers behind HAProxy: real client addresses; a restart (TERM, start again) and a HUP under load lose nothing${HAPROXY ? '' : ' (haproxy not installed: FAILS)'}`, async (t) => {
  t.true(HAPROXY, 'haproxy is installed (.ci/run installs it)');
  if (!HAPROXY) return;
  const [front, pa, pb] = [await freePort(), await freePort(), await freePort()];
  const servers: Record<'a' | 'b', SsProcess> = { a: await serve(t, pa), b: await serve(t, pb) };
  const { log } = await startHaproxy(t, haproxyConfig(front, pa, pb));
  await eventually(async () => (await ask(front, 'PING').catch(() => undefined)) === 'PONG' ? true : undefined, 'HAProxy serving', 15_000);

  // Handlers see the client's address, not HAProxy's.
  t.is(await ask(front, 'PEER', '127.0.0.2'), '127.0.0.2');
  t.is(await ask(front, 'PEER', '127.0.0.3'), '127.0.0.3');
  // Both servers take connections (leastconn over short connections spreads them).
  const owner = await pidsOf(servers);
  const took = new Set<string>();
  for (let i = 0; i < 40 && took.size < 2; i++) took.add(owner.get(await ask(front, 'PID')) ?? 'another process');
  t.deepEqual([...took].sort(), ['a', 'b'], 'both servers answer through HAProxy');

  // Load: 8 loops of connect + PEER + close through HAProxy while A restarts and B reloads.
  let stop = false;
  let ok = 0;
  let phase = 'both up';
  const failures: string[] = [];
  const loops = Array.from({ length: 8 }, async (_, i) => {
    const from = `127.0.0.${2 + (i % 2)}`;
    for (let n = 0; !stop && n < 100_000; n++) {
      try {
        const peer = await ask(front, 'PEER', from);
        if (peer === from) ok++;
        else failures.push(`wrong peer ${peer} for ${from}`);
      } catch (err) {
        failures.push(`${phase}: ${String(err)}`);
      }
    }
  });
  await sleep(1000);
  // A deploy as the README's guide has it: A gets TERM (it fails its health checks for
  // --accept-grace, then closes its listeners and finishes what it has), and starts again.
  phase = 'a stopping';
  t.is((await servers.a.stop()).code, 0, 'TERM: A exits 0');
  phase = 'a stopped';
  await sleep(500);
  phase = 'a starting';
  servers.a = await serve(t, pa);
  phase = 'a started';
  await sleep(1500); // HAProxy's check sees it up again, and A takes connections
  phase = 'b reloading';
  process.kill(servers.b.pid, 'SIGHUP'); // new workers, same listening socket: no drain needed
  await sleep(2500);
  stop = true;
  await Promise.all(loops);
  const odd = log().split('\n').filter((l) => l.includes(' ss/') && !l.includes(' -- ')).slice(0, 5).join('\n');
  const warnings = [servers.a, servers.b].flatMap((ss) => ss.stderr.split('\n').filter((l) => /"level":[45]0/.test(l))).slice(0, 5);
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}\n${odd}\n${warnings.join('\n')}`);
  t.true(ok > 100, `${ok} requests made`);
});

// Deploying › Sharing channels across hosts: the same HAProxy, the servers sharing channels through Redis.
test.serial(`two ss servers behind HAProxy sharing channels through Redis: subscribers on both receive what is published on either${HAPROXY ? '' : ' (haproxy not installed: FAILS)'}`, async (t) => {
  t.true(HAPROXY, 'haproxy is installed (.ci/run installs it)');
  if (!HAPROXY) return;
  const [front, pa, pb, pr] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const redis = await startRedis(pr);
  t.teardown(() => redis.kill('SIGKILL'));
  const shared = (port: number) => startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '2', '--proxy-protocol', 'v2',
    '--pubsub', `redis://127.0.0.1:${pr}`, '--bind', `127.0.0.1:${port}`]);
  const servers = [await shared(pa), await shared(pb)];
  for (const ss of servers) await bridged(ss);
  await startHaproxy(t, haproxyConfig(front, pa, pb));
  const clients: Redis[] = [];
  t.teardown(() => { for (const c of clients) c.disconnect(); });
  const client = (port: number) => {
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    c.on('error', () => {}); // HAProxy and Redis are killed at the end, before the clients let go
    clients.push(c);
    return c;
  };
  const got = new Map<Redis, string[]>();
  for (let i = 0; i < 4; i++) {
    const sub = client(front);
    await eventually(() => sub.ping().then(() => true), 'a subscriber to connect through HAProxy');
    got.set(sub, []);
    sub.on('message', (_channel: string, message: string) => got.get(sub)!.push(message));
    await sub.subscribe('news');
  }
  // leastconn spreads the subscribers: both servers have some.
  const subscribers = await Promise.all(servers.map(async (ss) => ((await ssInfo(ss.pid)).workers as { stats: { pubsub: { subscribers: number } } }[])
    .reduce((n, w) => n + w.stats.pubsub.subscribers, 0)));
  t.true(subscribers.every((n) => n > 0), `subscribers per server: ${subscribers.join(', ')}`);
  const look = client(pr);
  await eventually(async () => {
    const [, n] = await look.call('PUBSUB', 'NUMSUB', 'ss:news') as [string, number];
    return Number(n) >= 2 || undefined;
  }, 'both servers to subscribe in redis');
  const pub = client(front);
  for (const text of ['one', 'two', 'three']) await pub.publish('news', text);
  await eventually(() => [...got.values()].every((m) => m.length >= 3) || undefined, 'every subscriber to receive three messages');
  for (const messages of got.values()) t.deepEqual(messages, ['one', 'two', 'three']);
});
