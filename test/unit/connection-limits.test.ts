import test from 'ava';
import { MAX_IN_FLIGHT, type Connection } from '@socketserver/core';
import { dispatched, pipeline, type Pipeline } from '../helpers/pipeline.js';

const tick = () => new Promise((r) => setImmediate(r));

/** An async handler whose replies the test resolves, oldest first; counts calls outstanding at once. */
function heldHandler() {
  const waiting: (() => void)[] = [];
  const state = { calls: 0, outstanding: 0, most: 0 };
  const handler = (message: Buffer) => {
    state.calls++;
    state.most = Math.max(state.most, ++state.outstanding);
    const text = String(message);
    return new Promise<string>((resolve) => waiting.push(() => {
      state.outstanding--;
      resolve(text);
    }));
  };
  /** Resolve the `n` oldest calls, and let the replies go out. */
  const release = async (n: number) => {
    for (const resolve of waiting.splice(0, n)) resolve();
    await tick();
  };
  return { handler, state, release };
}

function connectionOf(p: Pipeline): Connection {
  return [...p.server.connections].at(-1)!;
}

test(`one read of 5000 messages starts ${MAX_IN_FLIGHT} handler calls, then one more per reply; replies in order`, async (t) => {
  const { handler, state, release } = heldHandler();
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0', handler });
  const socket = p.connect();
  const sent = Array.from({ length: 5000 }, (_, i) => String(i));
  socket.receive(`${sent.join('\n')}\n`);
  await dispatched(() => state.calls);
  t.is(state.calls, MAX_IN_FLIGHT, 'dispatch stops at the cap');
  t.true(socket.paused, 'and reading is paused');
  await release(10);
  await dispatched(() => state.calls);
  t.is(state.calls, MAX_IN_FLIGHT + 10, 'resumes from the pending bytes without a new read');
  t.is(String(socket.output()), sent.slice(0, 10).map((l) => `${l}\n`).join(''));
  for (let round = 0; round < 100 && state.calls < 5000; round++) {
    await release(100);
    await dispatched(() => state.calls);
  }
  await release(MAX_IN_FLIGHT);
  t.is(state.calls, 5000);
  t.is(state.most, MAX_IN_FLIGHT, `never more than ${MAX_IN_FLIGHT} at once`);
  t.is(String(socket.output()), sent.map((l) => `${l}\n`).join(''));
  t.false(socket.paused, 'reading again once everything is answered');
});

test('sync replies waiting behind a slow async one count toward the cap', async (t) => {
  let slow: ((v: string) => void) | undefined;
  let calls = 0;
  const handler = (message: Buffer) => {
    calls++;
    return String(message) === 'slow' ? new Promise<string>((resolve) => { slow = resolve; }) : message;
  };
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0', handler });
  const socket = p.connect();
  socket.receive(`slow\n${'x\n'.repeat(3000)}`);
  await dispatched(() => calls);
  t.is(calls, MAX_IN_FLIGHT, 'the queue behind the slow reply stops growing at the cap');
  t.true(socket.paused);
  slow!('done');
  await dispatched(() => calls);
  t.is(calls, 3001);
  t.is(String(socket.output()), `done\n${'x\n'.repeat(3000)}`);
});

test('requests that keep arriving while earlier ones are in flight do not pile up in the reply queue', async (t) => {
  const { handler, state, release } = heldHandler();
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0', handler });
  const socket = p.connect();
  const connection = connectionOf(p);
  socket.receive('m\n'.repeat(50));
  let longest = 0;
  for (let round = 0; round < 200; round++) {
    socket.receive('m\n'.repeat(50)); // 50 more arrive...
    await dispatched(() => state.calls); // (a read's dispatch yields after 5 ms of handler time)
    await release(50); // ...while 50 earlier ones finish: the queue is never empty
    const queue = (connection as unknown as { queue: unknown[] | null }).queue;
    t.not(queue, null, 'requests are always in flight');
    longest = Math.max(longest, queue!.length);
  }
  t.is(connection.inFlight, 50);
  t.true(longest <= 4 * 64, `the queue holds at most a few hundred entries, not all 10000 (longest ${longest})`);
  t.is(String(socket.output()).length, 2 * 50 * 200);
});

test('null from a handler, sync or async, is no reply; the connection goes on (a protocol without encodeInto)', async (t) => {
  const handler = (message: Buffer) => {
    const text = String(message);
    if (text === 'null') return null;
    if (text === 'async-null') return Promise.resolve(null);
    return message;
  };
  const p = await pipeline({ plugin: ['echo'], 'keep-alive': '0', handler });
  const socket = p.connect();
  socket.receive('null');
  socket.receive('async-null');
  await tick();
  socket.receive('after');
  await tick();
  t.is(String(socket.output()), 'after');
  t.false(socket.destroyed);
});

test('a reply the protocol cannot encode closes that connection; the replies before it are written', async (t) => {
  const handler = (message: Buffer) => (String(message) === 'bad' ? 42 : message);
  const p = await pipeline({ plugin: ['line'], 'keep-alive': '0', handler });
  const socket = p.connect();
  const connection = connectionOf(p);
  socket.receive('a\nb\nbad\nc\n');
  await tick();
  t.is(String(socket.output()), 'a\nb\n');
  t.true(socket.destroyed || socket.writableEnded);
  t.regex(connection.error?.message ?? '', /protocol encodedLength gave NaN bytes/);
});
