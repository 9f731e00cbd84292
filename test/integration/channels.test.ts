import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { runSs, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// app.pubsub through a chat server on `line`: rooms are channels.

const CHAT = join(FIXTURES, 'runtime', 'chat-handler.mjs');
const GUARD = join(FIXTURES, 'runtime', 'room-guard.mjs');

async function ask(c: Client, line: string): Promise<string> {
  c.send(`${line}\n`);
  const [reply] = await c.lines(1, 10_000);
  return reply!;
}

async function pubsubStats(ss: SsProcess): Promise<Record<string, number>> {
  const doc = await ssInfo(ss.pid);
  return (doc.workers as { stats: { pubsub: Record<string, number> } }[])[0]!.stats.pubsub;
}

test('a line said in a room reaches everyone in it, in order, and only them; publish counts the receivers', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', CHAT]);
  const [alice, bob, carol] = await Promise.all([Client.open(ss.port), Client.open(ss.port), Client.open(ss.port)]);
  t.is(await ask(alice!, 'join lobby'), 'joined lobby');
  t.is(await ask(bob!, 'join lobby'), 'joined lobby');
  t.is(await ask(carol!, 'join kitchen'), 'joined kitchen');
  alice!.send('say lobby one\nsay lobby two\nsay lobby three\n');
  // alice is in the room too: each message reaches her before the reply that says it was sent
  t.deepEqual(await alice!.lines(6), ['lobby 1 one', 'sent to 2', 'lobby 1 two', 'sent to 2', 'lobby 1 three', 'sent to 2']);
  t.deepEqual(await bob!.lines(3), ['lobby 1 one', 'lobby 1 two', 'lobby 1 three']);
  t.is(await ask(carol!, 'rooms'), 'rooms kitchen', 'carol got nothing from the lobby');
  t.is(await ask(bob!, 'leave lobby'), 'left lobby');
  t.is(await ask(bob!, 'leave lobby'), 'not in lobby');
  alice!.send('say lobby four\n');
  t.deepEqual(await alice!.lines(2), ['lobby 1 four', 'sent to 1']);
  t.is(await ask(bob!, 'rooms'), 'rooms ');
  for (const c of [alice, bob, carol]) c!.destroy();
});

test('a pattern subscription gets every matching channel (Redis globs); a closed connection leaves its channels', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', CHAT]);
  const [watcher, member, speaker] = await Promise.all([Client.open(ss.port), Client.open(ss.port), Client.open(ss.port)]);
  t.is(await ask(watcher!, 'watch news.[ab]*'), 'watching news.[ab]*');
  t.is(await ask(member!, 'join news.art'), 'joined news.art');
  t.is(await ask(speaker!, 'say news.art hi'), 'sent to 2');
  t.is(await ask(speaker!, 'say news.bikes yo'), 'sent to 1');
  t.is(await ask(speaker!, 'say news.cars no'), 'sent to 0');
  t.deepEqual(await watcher!.lines(2), ['news.art 3 hi', 'news.bikes 3 yo']);
  t.deepEqual(await member!.lines(1), ['news.art 3 hi']);
  member!.destroy();
  await sleep(200);
  t.is(await ask(speaker!, 'say news.art again'), 'sent to 1', 'the closed member is gone from the channel');
  const stats = await pubsubStats(ss);
  t.like(stats, { channels: 0, patterns: 1, subscribers: 1, published: 4, delivered: 4, dropped: 0 });
  const text = await runSs(['info', '--pid', String(ss.pid)]);
  t.regex(text.stdout, /\n {4}pushes 4 {2}channels 0 {2}patterns 1 {2}subscribers 1 {2}published 4 {2}delivered 4 {2}dropped 0\n/, 'plain ss info says it too');
  watcher!.destroy();
  speaker!.destroy();
});

test('a subscriber is not closed by --keep-alive; once it has left its rooms it is', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', CHAT, '--keep-alive', '1']);
  const c = await Client.open(ss.port);
  t.is(await ask(c, 'join lobby'), 'joined lobby');
  await sleep(2500);
  t.false(c.closed, 'still open after twice keep_alive with nothing said');
  t.is(await ask(c, 'leave lobby'), 'left lobby');
  await c.waitClose(5000);
  t.pass();
});

test('subscribe and publish taps may refuse, saying why; a tap that throws refuses too', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', CHAT, '--plugin', GUARD]);
  const c = await Client.open(ss.port);
  t.is(await ask(c, 'join secret-club'), 'refused: subscribe to "secret-club" refused: members only');
  t.is(await ask(c, 'join boom'), 'refused: subscribe to "boom" refused: plugin "room-guard" failed in subscribe: the guard failed');
  t.is(await ask(c, 'join quiet'), 'joined quiet');
  t.is(await ask(c, 'say quiet hello'), 'refused: publish to "quiet" refused: a quiet room');
  t.is(await ask(c, 'rooms'), 'rooms quiet');
  await ss.waitForLog((l) => l.msg === 'plugin "room-guard" failed in subscribe: the guard failed');
  c.destroy();
});
