import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inject, startServer } from '@socketserver/testing';
import plugin, { {{Pascal}}Protocol } from '../src/index.js';

/** A message as a client sends it: its length, then its bytes. */
const frame = (text: string): Buffer => new {{Pascal}}Protocol(Infinity).encode(text);

// inject runs the plugin in this process, as a worker would, on the bytes given: no socket, no ss.

test('each frame is a message, answered in order (no handler: each is echoed)', async () => {
  const result = await inject({ plugins: [plugin] }, Buffer.concat([frame('hello'), frame(''), frame('world')]));
  assert.deepEqual(result.replies.map(String), ['hello', '', 'world']);
  assert.equal(result.closed, false);
});

test('a frame split over many reads is one message', async () => {
  const bytes = frame('in pieces');
  const reads = [...bytes].map((byte) => Uint8Array.of(byte));
  const result = await inject({ plugins: [plugin] }, reads);
  assert.deepEqual(result.replies.map(String), ['in pieces']);
});

test('a frame over --{{name}}-max-frame closes the connection, after the replies owed', async () => {
  const result = await inject({ plugins: [plugin], settings: { {{camel}}MaxFrame: 8 } }, Buffer.concat([frame('short'), frame('far too long')]));
  assert.deepEqual(result.replies.map(String), ['short']);
  assert.equal(result.closed, true);
  assert.equal(result.closeReason, 'bad_input'); // a ProtocolError: that connection closed, its reason logged
});

// startServer runs the real `ss serve` on a free loopback port, and stops it when the test ends.

test('ss serve --plugin {{name}} serves it, by its package name', async (t) => {
  const server = await startServer(t, { plugins: ['{{name}}'], args: ['--{{name}}-max-frame', '8'] });
  assert.equal(String(await server.client.request('hello')), 'hello');
  await assert.rejects(server.client.request('far too long')); // over the limit: the server closes the connection
});
