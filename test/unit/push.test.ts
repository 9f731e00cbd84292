import test from 'ava';
import type { Connection } from '@socketserver/core';
import { pipeline } from '../helpers/pipeline.js';

const tick = () => new Promise((r) => setImmediate(r));

test('send: pushes of one turn go out in one write, in order; false once closed, or for no reply; a TypeError for what cannot be encoded', async (t) => {
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0' });
  const socket = p.connect();
  const connection = [...p.server.connections][0]! as Connection;
  t.true(connection.send('one'));
  t.true(connection.send(Buffer.from('two')));
  t.false(connection.send(undefined), 'undefined is no reply');
  t.false(connection.send(null), 'nor null, for a protocol that does not encode it');
  t.throws(() => connection.send({ not: 'encodable' }), { instanceOf: TypeError });
  await tick();
  t.is(String(socket.output()), 'one\ntwo\n');
  t.is(socket.writes, 1, 'one write for the pushes of one turn');
  t.is(p.server.snapshot().pushes, 2);
  socket.receive('three\n');
  t.true(connection.send('four'), 'after a read: behind its reply');
  await tick();
  t.is(String(socket.output()), 'one\ntwo\nthree\nfour\n');
  connection.destroy();
  t.false(connection.send('late'), 'closed');
});
