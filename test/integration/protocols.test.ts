import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NetstringProtocol } from '@socketserver/plugin-netstring';
import { LineProtocol } from '@socketserver/plugin-line';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

const ns = new NetstringProtocol(Number.MAX_SAFE_INTEGER);
const line = new LineProtocol(Number.MAX_SAFE_INTEGER);

test('echo: several connections each get their own bytes back', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo']);
  const clients = await Promise.all([1, 2, 3, 4, 5].map(() => Client.open(ss.port)));
  clients.forEach((c, i) => c.send(`hello from ${i}\n`));
  const replies = await Promise.all(clients.map((c, i) => c.read(`hello from ${i}\n`.length)));
  t.deepEqual(replies.map(String), clients.map((_, i) => `hello from ${i}\n`));
  clients.forEach((c) => c.destroy());
});

test('line: several lines in one write, one line over many writes, CRLF stripped', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line']);
  const c = await Client.open(ss.port);
  c.send(Buffer.concat([line.encode('one'), line.encode('two'), Buffer.from('three\r\n')]));
  t.deepEqual(await c.lines(3), ['one', 'two', 'three']);
  for (const piece of ['fo', 'u', 'r and a ha', 'lf\r', '\n']) {
    c.send(piece);
    await sleep(10);
  }
  t.deepEqual(await c.lines(1), ['four and a half']);
  const other = await Client.open(ss.port);
  other.send('parallel\n');
  t.deepEqual(await other.lines(1), ['parallel']);
  c.destroy();
  other.destroy();
});

test('netstring: frames in one write and split across writes, empty payload', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring']);
  const c = await Client.open(ss.port);
  const frames = [ns.encode('hello'), ns.encode(''), ns.encode(Buffer.alloc(3000, 'x'))];
  const all = Buffer.concat(frames);
  c.send(all.subarray(0, 4));
  await sleep(20);
  c.send(all.subarray(4, 1000));
  await sleep(20);
  c.send(all.subarray(1000));
  t.deepEqual(await c.read(all.length), all);
  c.destroy();
});

test('unix socket: served, and its file removed on stop', async (t) => {
  const dir = tempDir(t, 'unix');
  const path = join(dir, 'echo.sock');
  const ss = await startSs(t, ['--plugin', 'echo', '--bind', `unix:${path}`]);
  t.deepEqual(ss.addresses, [`unix:${path}`]);
  const c = await Client.open(path);
  c.send('over unix');
  t.is(String(await c.read(9)), 'over unix');
  c.destroy();
  const exit = await ss.stop('SIGTERM');
  t.is(exit.code, 0, ss.stderr);
  t.false(existsSync(path));
});
