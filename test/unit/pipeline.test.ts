import test from 'ava';
import { MAX_IN_FLIGHT } from '@socketserver/core';
import { dispatched, pipeline } from '../helpers/pipeline.js';

test('the replies produced by one read go out in one write', async (t) => {
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0' });
  const socket = p.connect();
  const lines = Array.from({ length: 16 }, (_, i) => `message ${i}`);
  socket.receive(lines.map((l) => `${l}\n`).join(''));
  t.is(socket.writes, 1);
  t.is(String(socket.output()), lines.map((l) => `${l}\n`).join(''));
  socket.receive('one more\nand another\n');
  t.is(socket.writes, 2);
});

test('a client not reading its replies is paused until the socket drains', async (t) => {
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0' });
  const socket = p.connect();
  socket.writable = false; // write() says the buffer is full
  socket.receive('a\n');
  t.true(socket.paused);
  socket.writable = true;
  socket.emit('drain');
  t.false(socket.paused);
});

test(`at most ${MAX_IN_FLIGHT} async replies outstanding before the client is paused`, async (t) => {
  const pending: ((v: string) => void)[] = [];
  const handler = () => new Promise<string>((resolve) => pending.push(resolve));
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0', handler });
  const socket = p.connect();
  socket.receive('x\n'.repeat(MAX_IN_FLIGHT - 1));
  await dispatched(() => pending.length); // handler time may give the loop back midway
  t.is(pending.length, MAX_IN_FLIGHT - 1);
  t.false(socket.paused);
  socket.receive('x\n');
  t.true(socket.paused, 'paused at the cap');
  pending.shift()!('first');
  await new Promise((r) => setImmediate(r));
  t.false(socket.paused, 'reading again once one is answered');
  t.is(String(socket.output()), 'first\n');
});
