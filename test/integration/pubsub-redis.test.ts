import test from 'ava';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from '../helpers/client.js';
import { eventually, runSs, ssInfo, startSs, type Owner, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { freePort } from '../helpers/free-port.js';
import { bridged, startRedis } from '../helpers/redis-server.js';
import { assertOneLineError } from '../helpers/assert.js';

// --pubsub redis://: the servers of different hosts (here two servers on loopback) share
// channels through a real redis-server.

const CHAT = join(FIXTURES, 'runtime', 'chat-handler.mjs');

async function ask(c: Client, line: string): Promise<string> {
  c.send(`${line}\n`);
  const [reply] = await c.lines(1, 10_000);
  return reply!;
}

/** A redis-server on a free port, killed at the end; and a connection to it for looking in. */
async function redis(t: { teardown(f: () => void): void }): Promise<{ port: number; url: string; look: Redis; restart(): Promise<void>; kill(): void }> {
  const port = await freePort();
  let server = await startRedis(port);
  t.teardown(() => server.kill('SIGKILL'));
  const look = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  look.on('error', () => {});
  await look.connect();
  t.teardown(() => look.disconnect());
  return {
    port, url: `redis://127.0.0.1:${port}`, look,
    kill: () => server.kill('SIGKILL'),
    restart: async () => {
      server = await startRedis(port);
    },
  };
}

async function chat(t: Owner, url: string, ...args: string[]): Promise<SsProcess> {
  return startSs(t, ['--plugin', 'line', '--handler', CHAT, '--pubsub', url, ...args]);
}

/** Subscribers of `channel` in Redis itself (one per worker that has subscribers of it). */
async function numsub(look: Redis, channel: string): Promise<number> {
  const reply = await look.call('PUBSUB', 'NUMSUB', channel) as [string, number];
  return Number(reply[1]);
}

test('two servers sharing a redis-server share channels: a publish on one reaches the subscribers of the other on every worker, once each, in order', async (t) => {
  const r = await redis(t);
  const a = await chat(t, r.url, '--workers', '2', '--balance', 'round-robin');
  const b = await chat(t, r.url, '--workers', '1');
  await bridged(b);
  const members = await Promise.all(Array.from({ length: 4 }, () => Client.open(a.port)));
  const pids = new Set<string>();
  for (const m of members) {
    pids.add(await ask(m, 'pid'));
    t.is(await ask(m, 'join lobby'), 'joined lobby');
  }
  t.is(pids.size, 2, 'the members are on both workers of a');
  // Each worker of a subscribes in Redis once, for all its members; b has none and subscribes to nothing.
  await eventually(async () => (await numsub(r.look, 'ss:lobby')) === 2 || undefined, 'both workers of a to subscribe in redis');
  t.deepEqual(await r.look.call('PUBSUB', 'CHANNELS'), ['ss:lobby']);

  const speaker = await Client.open(b.port);
  speaker.send('say lobby one\nsay lobby two\nsay lobby three\n');
  t.deepEqual(await speaker.lines(3), ['sent to 0', 'sent to 0', 'sent to 0'], 'b counts its own subscribers only');
  for (const m of members) t.deepEqual((await m.lines(3, 10_000)).map((l) => l.replace(/ \d+ /, ' _ ')), ['lobby _ one', 'lobby _ two', 'lobby _ three']);

  // A publish in a reaches a's members through a's own workers, and not a second time through Redis.
  members[0]!.send('say lobby here\n');
  const [own, sent] = await members[0]!.lines(2, 10_000);
  t.regex(own!, /^lobby \d+ here$/);
  t.is(sent, 'sent to 4', 'every member of a, on both workers, counted');
  for (const m of members.slice(1)) t.regex((await m.lines(1))[0]!, /^lobby \d+ here$/);
  for (const m of members) t.is(await ask(m, 'rooms'), 'rooms lobby', 'nothing came twice');

  // Another program publishing in Redis reaches the members as its bytes.
  t.is(await r.look.publish('ss:lobby', 'from outside'), 2);
  for (const m of members) t.deepEqual(await m.lines(1), ['from outside']);

  // Once the last member of a worker leaves, that worker unsubscribes in Redis.
  for (const m of members) t.is(await ask(m, 'leave lobby'), 'left lobby');
  await eventually(async () => (await numsub(r.look, 'ss:lobby')) === 0 || undefined, 'a to unsubscribe in redis');
  t.deepEqual(await r.look.call('PUBSUB', 'CHANNELS'), []);
  for (const c of [...members, speaker]) c.destroy();
});

test('a Redis restart is logged; what is published while it is down is lost to other hosts, and once it is back the subscriptions are made again', async (t) => {
  const r = await redis(t);
  const a = await chat(t, r.url, '--workers', '1');
  const b = await chat(t, r.url, '--workers', '1');
  await bridged(b);
  const member = await Client.open(a.port);
  t.is(await ask(member, 'join news'), 'joined news');
  t.is(await ask(member, 'watch n*'), 'watching n*');
  await eventually(async () => (await numsub(r.look, 'ss:news')) === 1 || undefined, 'a to subscribe in redis');
  const speaker = await Client.open(b.port);
  t.is(await ask(speaker, 'say news before'), 'sent to 0');
  t.deepEqual((await member.lines(2)).map((l) => l.replace(/ \d+ /, ' _ ')), ['news _ before', 'news _ before'], 'by name and by pattern');

  r.kill();
  await a.waitForLog((l) => l.level === 40 && l.msg.startsWith('pubsub: lost redis'));
  await b.waitForLog((l) => l.level === 40 && l.msg.startsWith('pubsub: lost redis'));
  t.is(await ask(speaker, 'say news meanwhile'), 'sent to 0');
  member.send('say news local\n');
  t.deepEqual((await member.lines(3)).map((l) => l.replace(/ \d+ /, ' _ ')), ['news _ local', 'news _ local', 'sent to 2'], 'channels in a server go on without Redis');

  await r.restart();
  await a.waitForLog((l) => l.msg.startsWith('pubsub: reconnected to redis'), 20_000);
  await b.waitForLog((l) => l.msg.startsWith('pubsub: reconnected to redis'), 20_000);
  await bridged(b);
  await r.look.ping(); // the looking connection is back too
  await eventually(async () => (await numsub(r.look, 'ss:news')) === 1 || undefined, 'a to subscribe again');
  t.is(Number(await r.look.call('PUBSUB', 'NUMPAT')), 1, 'the pattern too');
  t.is(await ask(speaker, 'say news after'), 'sent to 0');
  t.deepEqual((await member.lines(2)).map((l) => l.replace(/ \d+ /, ' _ ')), ['news _ after', 'news _ after'], 'nothing from while Redis was down');
  const info = await ssInfo(b.pid);
  t.like(info.workers[0].stats.pubsub.redis, { state: 'ready', sent: 2 });
  t.true(info.workers[0].stats.pubsub.redis.lost >= 1, 'the publish made while Redis was down is counted as lost');
  member.destroy();
  speaker.destroy();
});

test('resp + kv across hosts: a redis-cli style subscriber on one server gets the exact bytes PUBLISHed on another', async (t) => {
  const r = await redis(t);
  const a = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--pubsub', r.url, '--pubsub-prefix', 'app*1:']);
  const b = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1', '--pubsub', r.url, '--pubsub-prefix', 'app*1:']);
  await bridged(b);
  const sub = new Redis(a.port, '127.0.0.1', { lazyConnect: true });
  sub.on('error', () => {}); // commands fail if it is lost: that is what is checked
  t.teardown(() => sub.disconnect());
  await sub.connect();
  const got: string[] = [];
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => got.push(`message ${channel.toString('hex')} ${message.toString('hex')}`));
  sub.on('pmessageBuffer', (pattern: string, channel: Buffer, message: Buffer) => got.push(`pmessage ${pattern} ${channel.toString('hex')} ${message.toString('hex')}`));
  const channel = Buffer.from([0x63, 0x0d, 0x0a, 0xff]); // binary: CR LF and a byte that is no UTF-8
  await sub.subscribe(channel);
  await sub.psubscribe('c?*');
  // The prefix has a glob character: it is escaped in PSUBSCRIBE, so it matches only itself.
  const inRedis = Buffer.concat([Buffer.from('app*1:'), channel]);
  await eventually(async () => {
    const [, n] = await r.look.callBuffer('PUBSUB', 'NUMSUB', inRedis) as [Buffer, number];
    return Number(n) === 1 && Number(await r.look.call('PUBSUB', 'NUMPAT')) === 1 || undefined;
  }, 'a to subscribe in redis');
  t.deepEqual((await r.look.callBuffer('PUBSUB', 'CHANNELS') as Buffer[]).map((c) => c.toString('hex')), [inRedis.toString('hex')]);
  const pub = new Redis(b.port, '127.0.0.1', { lazyConnect: true });
  pub.on('error', () => {});
  t.teardown(() => pub.disconnect());
  await pub.connect();
  const message = Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0xfe, 0xff]);
  t.is(await pub.publish(channel, message), 0, 'no subscriber on b');
  t.is(await r.look.publish('appX1:cat', 'not ours'), 0, 'a channel of another prefix reaches nobody');
  await eventually(() => got.length >= 2 || undefined, 'the subscriber on a to receive');
  t.deepEqual(got.sort(), [`message ${channel.toString('hex')} ${message.toString('hex')}`, `pmessage c?* ${channel.toString('hex')} ${message.toString('hex')}`].sort());
});

test('--pubsub takes a redis:// or rediss:// URL: anything else exits 2 with one line naming it', async (t) => {
  for (const bad of ['http://127.0.0.1:6379', 'redis://', 'redis://127.0.0.1:6379/x', '127.0.0.1:6379']) {
    const r = await runSs(['serve', '--plugin', 'echo', '--bind', '127.0.0.1:0', '--pubsub', bad]);
    assertOneLineError(t, r, 2, ['--pubsub', 'redis://127.0.0.1:6379']);
  }
});
