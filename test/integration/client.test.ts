import test from 'ava';
import { join } from 'node:path';
import { createClient, type Protocol } from '@socketserver/core';
import { rawServer, closedPort } from '../helpers/raw-server.js';
import { startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

test('createClient round trip with each built-in protocol through ss serve', async (t) => {
  for (const plugin of ['echo', 'line', 'netstring']) {
    const ss = await startSs(t, ['--plugin', plugin]);
    const client = await createClient({ plugin, address: `127.0.0.1:${ss.port}` });
    const reply = await client.request(`hello ${plugin}`);
    t.is(Buffer.from(reply).toString(), `hello ${plugin}`, plugin);
    await client.close();
    await ss.stop();
  }
});

test('100 pipelined requests are answered in order (line, async handler finishing out of order)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
  const client = await createClient({ plugin: 'line', address: `127.0.0.1:${ss.port}` });
  // Earlier requests sleep longer, so the handler finishes them last.
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => client.request(`slow:${100 - i}:message ${i}`)));
  t.deepEqual(replies.map((r: Buffer) => r.toString()), Array.from({ length: 100 }, (_, i) => `message ${i}`));
  await client.close();
});

test('netstring pipelining: 100 requests sent at once, replies in order', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring']);
  const client = await createClient({ plugin: 'netstring', address: `127.0.0.1:${ss.port}` });
  const sent = Array.from({ length: 100 }, (_, i) => `n${i}:${'x'.repeat(i * 50)}`);
  const replies = await Promise.all(sent.map((m) => client.request(m)));
  t.deepEqual(replies.map((r: Buffer) => r.toString()), sent);
  await client.close();
});

test('createClient over a unix socket', async (t) => {
  const dir = tempDir(t, 'client-unix');
  const path = join(dir, 's.sock');
  await startSs(t, ['--plugin', 'netstring', '--bind', `unix:${path}`]);
  const client = await createClient({ plugin: 'netstring', address: `unix:${path}` });
  t.is((await client.request('over unix')).toString(), 'over unix');
  await client.close();
});

test('a refused address rejects createClient with a clear message', async (t) => {
  const port = await closedPort();
  await t.throwsAsync(createClient({ plugin: 'line', address: `127.0.0.1:${port}` }), { message: `cannot connect to 127.0.0.1:${port}: connection refused` });
});

test('a missing unix socket rejects createClient', async (t) => {
  const dir = tempDir(t, 'client-nosock');
  await t.throwsAsync(createClient({ plugin: 'line', address: `unix:${dir}/none.sock` }), { message: `cannot connect to unix:${dir}/none.sock: no such socket file` });
});

test('a plugin setting given to createClient applies to its client protocol (line maxLine)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line']);
  const client = await createClient({ plugin: 'line', address: `127.0.0.1:${ss.port}`, settings: { maxLine: '4b' } });
  const err = await t.throwsAsync(client.request('a reply longer than four bytes'));
  t.regex(err!.message, /^malformed reply from 127\.0\.0\.1:\d+: line longer than 4 bytes/);
  await t.throwsAsync(client.request('after'), { message: err!.message });
});

test('an unknown setting or a plugin without a protocol is a usage error', async (t) => {
  await t.throwsAsync(createClient({ plugin: 'line', address: '127.0.0.1:1', settings: { nope: 1 } }), { name: 'UsageError', message: 'plugin "line" has no setting "nope" (its settings: maxLine)' });
  await t.throwsAsync(createClient({ plugin: './test/fixtures/runtime/info-tap.mjs', address: '127.0.0.1:1' }), { name: 'UsageError', message: /has no protocol/ });
  await t.throwsAsync(createClient({ address: '127.0.0.1:1' }), { name: 'UsageError' });
  await t.throwsAsync(createClient({ plugin: 'line', address: 'host:port' }), { name: 'UsageError', message: /^invalid address "host:port"/ });
});

const netstring = (): Protocol => {
  // A tiny netstring client protocol, given as a factory (no plugin).
  return {
    decode(data: Buffer): [Buffer | undefined, Buffer] {
      const colon = data.indexOf(0x3a);
      if (colon === -1) return [undefined, data];
      const len = Number(data.subarray(0, colon).toString());
      if (!Number.isInteger(len)) throw new Error('bad length');
      if (data.length < colon + len + 2) return [undefined, data];
      return [data.subarray(colon + 1, colon + 1 + len), data.subarray(colon + len + 2)];
    },
    encode: (m: Buffer | string) => `${Buffer.byteLength(m)}:${m.toString()},`,
  };
};

test('a server closing mid-reply rejects every outstanding request', async (t) => {
  const port = await rawServer(t, (socket) => {
    socket.end('5:hel'); // half a netstring, then close
  });
  const client = await createClient({ protocol: netstring, address: `127.0.0.1:${port}` });
  const results = await Promise.allSettled([client.request('a'), client.request('b')]);
  t.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  t.is((results[0] as PromiseRejectedResult).reason.message, 'connection closed by the server with 2 request(s) unanswered');
});

test('a request timeout rejects that request and closes the client', async (t) => {
  const port = await rawServer(t, () => undefined); // never answers
  const client = await createClient({ protocol: netstring, address: `127.0.0.1:${port}`, requestTimeout: 200 });
  const started = Date.now();
  const [a, b] = await Promise.allSettled([client.request('a'), client.request('b')]);
  t.true(Date.now() - started < 5000);
  t.is((a as PromiseRejectedResult).reason.message, `no reply from 127.0.0.1:${port} within 200 ms`);
  t.is(b.status, 'rejected');
  await t.throwsAsync(client.request('c'));
});

test('a message with no request outstanding is a push; the client stays in step', async (t) => {
  const port = await rawServer(t, (socket, chunk) => {
    socket.write(Buffer.concat([chunk, Buffer.from('5:extra,')])); // one message more than asked, in the same read
  });
  const client = await createClient({ protocol: netstring, address: `127.0.0.1:${port}` });
  const pushed: string[] = [];
  client.on('push', (m: Buffer) => pushed.push(m.toString()));
  t.is((await client.request('one')).toString(), 'one');
  t.is((await client.request('two')).toString(), 'two');
  await client.close();
  t.deepEqual(pushed, ['extra', 'extra']);
});

test('a malformed reply rejects everything outstanding', async (t) => {
  const port = await rawServer(t, (socket) => socket.write('zz:oops,'));
  const client = await createClient({ plugin: 'netstring', address: `127.0.0.1:${port}` });
  const results = await Promise.allSettled([client.request('a'), client.request('b')]);
  t.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  t.regex((results[1] as PromiseRejectedResult).reason.message, /^malformed reply from 127\.0\.0\.1:\d+: /);
});
