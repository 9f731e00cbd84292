import test from 'ava';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { eventually, startSs } from '../helpers/ss.js';

// The two Redis client libraries of Node, as users configure them by default, subscribe to kv
// and receive what is published, bytes exact.

const BINARY = Buffer.from([0x68, 0x69, 0x0d, 0x0a, 0x00, 0xff]);

test('ioredis subscribers (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE) work against kv unchanged', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  const sub = new Redis(ss.port, '127.0.0.1', { lazyConnect: true });
  const pub = new Redis(ss.port, '127.0.0.1', { lazyConnect: true });
  for (const c of [sub, pub]) c.on('error', () => {}); // commands fail if it is lost: that is what is checked
  t.teardown(() => { sub.disconnect(); pub.disconnect(); });
  await Promise.all([sub.connect(), pub.connect()]);
  const got: string[] = [];
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => got.push(`message ${channel} ${message.toString('hex')}`));
  sub.on('pmessage', (pattern: string, channel: string, message: string) => got.push(`pmessage ${pattern} ${channel} ${message}`));
  t.is(await sub.subscribe('news', 'sport'), 2);
  t.is(await sub.psubscribe('n*'), 3);
  t.is(await pub.publish('news', BINARY), 2, 'by name and by pattern');
  t.is(await pub.publish('weather', 'rain'), 0);
  await eventually(() => got.length >= 2 || undefined, 'two messages');
  t.deepEqual(got.sort(), [`message news ${BINARY.toString('hex')}`, `pmessage n* news ${BINARY.toString()}`].sort());
  await sub.unsubscribe('news');
  t.is(await pub.publish('news', 'again'), 1, 'the pattern only');
  t.deepEqual(await pub.call('PUBSUB', 'NUMSUB', 'news', 'sport'), ['news', 0, 'sport', 1]);
  await eventually(() => got.length >= 3 || undefined, 'the third message');
  t.is(got[2], 'pmessage n* news again');
  t.deepEqual(await sub.ping(), ['pong', ''], 'PING while subscribed, as Redis answers it over RESP2');
});

test('node-redis subscribers (subscribe, pSubscribe, unsubscribe) work against kv unchanged', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1']);
  const url = `redis://127.0.0.1:${ss.port}`;
  const sub = createClient({ url });
  const pub = createClient({ url });
  for (const c of [sub, pub]) c.on('error', () => {});
  await Promise.all([sub.connect(), pub.connect()]);
  t.teardown(() => { sub.destroy(); pub.destroy(); });
  const got: string[] = [];
  await sub.subscribe('news', (message: Buffer, channel: Buffer) => got.push(`message ${channel} ${message.toString('hex')}`), true);
  await sub.pSubscribe('n*', (message: string, channel: string) => got.push(`pmessage ${channel} ${message}`));
  t.is(await pub.publish('news', BINARY), 2);
  await eventually(() => got.length >= 2 || undefined, 'two messages');
  t.deepEqual(got.sort(), [`message news ${BINARY.toString('hex')}`, `pmessage news ${BINARY.toString()}`].sort());
  await sub.unsubscribe('news');
  t.is(await pub.publish('news', 'again'), 1);
  await eventually(() => got.length >= 3 || undefined, 'the third message');
  t.is(got[2], 'pmessage news again');
  t.deepEqual(await pub.pubSubNumSub(['news']), { news: 0 });
  t.is(await pub.pubSubNumPat(), 1);
});
