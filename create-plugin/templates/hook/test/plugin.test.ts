import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkerInfo } from '@socketserver/core';
import { requestInfo } from '@socketserver/core/process';
import { createApp, inject, startServer } from '@socketserver/testing';
import plugin from '../src/index.js';

// inject runs the plugins in this process, as a worker would, on the bytes given: no socket, no ss.
// A hook plugin needs a protocol to serve with: here the bundled `line`.

test('a connection and each of its requests go through the hooks it taps', async () => {
  const result = await inject({ plugins: ['line', plugin] }, 'one\ntwo\n');
  assert.deepEqual(result.replies.map(String), ['one', 'two']);
  const calls = (name: string) => result.hooks.filter((h) => h.name === name).length;
  assert.equal(calls('connectionMade'), 1);
  assert.equal(calls('postRequest'), 2);
});

test('it counts connections and requests, and adds them to its worker\'s info', async () => {
  const app = await createApp({ plugins: ['line', plugin] }); // one app, as one worker: its counts last
  await inject(app, 'one\ntwo\n');
  await inject(app, 'three\n');
  const worker: WorkerInfo = { server: 'test', id: 1, pid: process.pid, uptime: 0, state: 'running' };
  const info = await app.hooks.info.promise(worker, 'worker');
  assert.deepEqual(info['{{name}}'], { connections: 2, requests: 3 });
});

// startServer runs the real `ss serve` on a free loopback port, and stops it when the test ends.

test('ss serve --plugin {{name}}: ss info shows what its worker counted', async (t) => {
  const server = await startServer(t, { plugins: ['line', '{{name}}'] });
  await server.client.request('one');
  await server.client.request('two');
  const info = await requestInfo(server.pid); // what `ss info --json` prints
  assert.deepEqual(info.workers.map((w) => w['{{name}}']), [{ connections: 1, requests: 2 }]);
});
