import test from 'ava';
import { join } from 'node:path';
import { createClient, type Client } from '@socketserver/core';
import type { RespRequest, RespValue } from '@socketserver/plugin-resp';
import { eventually, startSs } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';

// createClient receiving what a server pushes (connection.send, channels): as `push` events
// and through `client.pushes()`, while replies still answer the requests in order.

const PUSH_HANDLER = join(FIXTURES, 'runtime', 'push-handler.mjs');

/** Up to `n` items of an async iterator (fewer if it ends), within `ms`. */
async function take<T>(it: AsyncIterator<T>, n: number, ms = 10_000): Promise<T[]> {
  const out: T[] = [];
  const until = Date.now() + ms;
  while (out.length < n) {
    const left = until - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`only ${out.length} of ${n} within ${ms} ms`)), Math.max(0, left)); });
    const r = await Promise.race([it.next(), timeout]).finally(() => clearTimeout(timer));
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** A RESP value with its bytes as text, to compare. */
function text(v: RespValue): unknown {
  if (Buffer.isBuffer(v)) return v.toString();
  if (Array.isArray(v)) return v.map(text);
  if (v instanceof Error) return { error: v.message };
  return v;
}

test('line: pushes come as push events and through pushes(), after the reply that started them', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', PUSH_HANDLER]);
  const client = await createClient({ plugin: 'line', address: `127.0.0.1:${ss.port}` });
  const events: string[] = [];
  client.on('push', (m) => events.push(m.toString()));
  const pushes = client.pushes();
  t.is((await client.request('ticks 3')).toString(), 'started');
  t.deepEqual((await take(pushes, 3)).map(String), ['tick 1', 'tick 2', 'tick 3']);
  t.deepEqual(events, ['tick 1', 'tick 2', 'tick 3']);
  t.is(pushes.dropped, 0);
  t.is((await client.request('after')).toString(), 'after', 'requests still answered in order');
  await client.close();
  t.deepEqual(await take(pushes, 1), [], 'the iteration ends when the connection closes');
});

test('a slow iterator keeps the newest `limit` pushes and counts the dropped ones', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', PUSH_HANDLER]);
  const client = await createClient({ plugin: 'line', address: `127.0.0.1:${ss.port}` });
  let seen = 0;
  client.on('push', () => seen++);
  const pushes = client.pushes({ limit: 2 });
  await client.request('ticks 5');
  await eventually(() => (seen === 5 ? true : undefined), '5 pushes');
  t.deepEqual((await take(pushes, 2)).map(String), ['tick 4', 'tick 5']);
  t.is(pushes.dropped, 3);
  t.throws(() => client.pushes({ limit: -1 }), { message: /invalid limit -1/ });
  await client.close();
});

test('the server closing ends pushes() and emits close without an error; a loop may break early', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', PUSH_HANDLER]);
  const client = await createClient({ plugin: 'line', address: `127.0.0.1:${ss.port}` });
  const closed = new Promise<Error | undefined>((resolve) => client.once('close', resolve));
  const early = client.pushes();
  const pushes = client.pushes();
  await client.request('ticks 1000');
  for await (const m of early) {
    t.is(m.toString(), 'tick 1');
    break;
  }
  const got: string[] = [];
  const done = (async () => {
    for await (const m of pushes) got.push(m.toString());
  })();
  await eventually(() => (got.length >= 2 ? true : undefined), 'two ticks');
  await ss.stop();
  await done;
  t.is(await closed, undefined);
  t.deepEqual(got.slice(0, 2), ['tick 1', 'tick 2']);
  t.deepEqual(await take(client.pushes(), 1), [], 'pushes() of a closed client ends at once');
});

test('resp: SUBSCRIBE resolves with its first confirmation; the others and the messages are pushes', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv']);
  const address = `127.0.0.1:${ss.port}`;
  const sub: Client<RespRequest, RespValue> = await createClient<RespRequest, RespValue>({ plugin: 'resp', address });
  const pub = await createClient<RespRequest, RespValue>({ plugin: 'resp', address });
  const pushes = sub.pushes();
  t.deepEqual(text(await sub.request(['SUBSCRIBE', 'news'])), ['subscribe', 'news', 1]);
  t.is(await pub.request(['PUBLISH', 'news', 'hello']), 1);
  t.deepEqual(text((await take(pushes, 1))[0]!), ['message', 'news', 'hello']);

  // Pipelined: each request gets its own first reply, whatever else comes among them.
  const replies = Promise.all([
    sub.request(['SUBSCRIBE', 'a', 'b']),
    sub.request('PSUBSCRIBE n* x*'),
    sub.request(['PING']),
    sub.request(['UNSUBSCRIBE']),
    sub.request(['PUNSUBSCRIBE']),
    sub.request(['MSET', 'k', 'message', 'v', 'x']),
    sub.request(['MGET', 'k', 'k', 'v']),
  ]);
  t.deepEqual((await replies).map(text), [
    ['subscribe', 'a', 2], ['psubscribe', 'n*', 4], ['pong', ''], ['unsubscribe', 'news', 4], ['punsubscribe', 'n*', 1], 'OK',
    ['message', 'message', 'x'], // a reply: no longer subscribed, so not a pub/sub message
  ]);
  t.deepEqual((await take(pushes, 5)).map(text), [
    ['subscribe', 'b', 3], ['psubscribe', 'x*', 5], ['unsubscribe', 'a', 3], ['unsubscribe', 'b', 2], ['punsubscribe', 'x*', 0],
  ]);

  t.deepEqual(text(await sub.request(['PSUBSCRIBE', 'ne*'])), ['psubscribe', 'ne*', 1]);
  t.is(await pub.request(['PUBLISH', 'news', 'again']), 1);
  t.deepEqual(text((await take(pushes, 1))[0]!), ['pmessage', 'ne*', 'news', 'again']);
  await Promise.all([sub.close(), pub.close()]);
});
