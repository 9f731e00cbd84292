import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestInfo } from '@socketserver/core/process';
import { inject, startServer } from '@socketserver/testing';
import plugin from '../src/index.js';

// inject runs the plugins in this process, as a worker would, on the bytes given: no socket, no ss.

test('a connection and each of its requests go through the hooks it taps', async () => {
  const result = await inject({ plugins: ['line', plugin] }, 'one\ntwo\n');
  assert.deepEqual(result.replies.map(String), ['one', 'two']);
  const calls = (name: string) => result.hooks.filter((h) => h.name === name).length;
  assert.equal(calls('connectionMade'), 1);
  assert.equal(calls('postRequest'), 2);
});

// startServer runs the real `ss serve` on a free loopback port, and stops it when the test ends.

test('ss info shows what each worker counted', async (t) => {
  const server = await startServer(t, { plugins: ['line', '{{name}}'] });
  await server.client.request('one');
  await server.client.request('two');
  const info = await requestInfo(server.pid);
  assert.deepEqual(info.workers.map((w) => w['{{name}}']), [{ connections: 1, requests: 2 }]);
});
