import test from 'ava';
import { definePlugin, type Request } from '@socketserver/core';
import { createApp, inject } from '@socketserver/testing';
import { RespError } from '@socketserver/plugin-resp';
import { REPO } from '../helpers/ss.js';

// The testing kit's inject: the real pipeline (protocol, handler, hooks) in this process, bytes in, what the server did out.

const cwd = REPO;
const text = (values: readonly unknown[]) => values.map(String);

test('echo: each read is one message, echoed; the client ends the connection once answered', async (t) => {
  const r = await inject<Buffer>({ plugins: ['echo'], cwd }, ['a', 'bc', new Uint8Array([100])]);
  t.deepEqual(text(r.replies), ['a', 'bc', 'd']);
  t.deepEqual(r.pushes, []);
  t.is(String(r.output), 'abcd');
  t.false(r.closed);
  t.is(r.closeReason, 'clean');
  t.deepEqual(r.hooks.map((h) => h.name), ['workerStart', 'connectionMade', 'preRequest', 'postRequest', 'preRequest', 'postRequest',
    'preRequest', 'postRequest', 'connectionLost', 'workerStop']);
});

test('line: a handler function and settings by name; a message split over reads is one', async (t) => {
  const handler = (m: Buffer) => String(m).toUpperCase();
  const r = await inject({ plugins: ['line'], handler, settings: { keepAlive: 0, maxLine: '1kb' }, cwd }, ['hi\nth', 'ere\n']);
  t.deepEqual(text(r.replies), ['HI', 'THERE']);
  t.is(String(r.output), 'HI\nTHERE\n');
});

test('netstring: { messages } are encoded by the protocol\'s client side', async (t) => {
  const r = await inject({ plugins: ['netstring'], cwd }, { messages: ['hello', '', 'x'.repeat(300)] });
  t.deepEqual(text(r.replies), ['hello', '', 'x'.repeat(300)]);
  t.is(String(r.output).slice(0, 12), '5:hello,0:,3');
});

test('resp + kv: commands as { messages }, replies decoded by the RESP client; one app keeps its store between injects', async (t) => {
  const app = await createApp({ plugins: ['resp', 'kv'], cwd });
  const set = await inject(app, { messages: [['SET', 'k', 'v'], ['INCR', 'n'], ['INCR', 'n']] });
  t.deepEqual(set.replies, ['OK', 1, 2]);
  const get = await inject(app, { messages: [['GET', 'k'], ['GET', 'missing']] });
  t.deepEqual(get.replies, [Buffer.from('v'), null]);
  t.false(get.closed);
});

test('a hook plugin given as an object: its taps run, and every hook call is recorded with its arguments, in order', async (t) => {
  const seen: string[] = [];
  const counter = definePlugin({
    name: 'counter',
    apply(app) {
      app.hooks.connectionMade.tap('counter', (c) => { seen.push(`made ${c.id}`); });
      app.hooks.postRequest.tap('counter', (r, response) => { seen.push(`${r.seq}: ${String(response)}`); });
      app.hooks.connectionLost.tap('counter', (c) => { seen.push(`lost after ${c.requests}`); });
    },
  });
  const r = await inject({ plugins: ['line', counter], cwd }, 'a\nb\n');
  t.deepEqual(seen, ['made 1', '1: a', '2: b', 'lost after 2']);
  const pre = r.hooks.filter((h) => h.name === 'preRequest').map((h) => (h.args[0] as Request).seq);
  t.deepEqual(pre, [1, 2]);
  const post = r.hooks.find((h) => h.name === 'postRequest')!;
  t.is(post.args.length, 2);
  t.is(String(post.args[1]), 'a');
  const lost = r.hooks.find((h) => h.name === 'connectionLost')!;
  t.deepEqual(lost.args.slice(1), [undefined], 'no error: the client ended it');
});

test('handlerError: a plugin (by path) answers for a handler that threw; the call is recorded and the connection goes on', async (t) => {
  const handler = (m: Buffer) => {
    if (String(m) === 'boom') throw new Error('kaput');
    return m;
  };
  const r = await inject({ plugins: ['line', './test/fixtures/runtime/error-replies.mjs'], handler, cwd }, 'a\nboom\nb\n');
  t.deepEqual(text(r.replies), ['a', 'error in request 2: kaput', 'b']);
  const failed = r.hooks.find((h) => h.name === 'handlerError')!;
  t.is((failed.args[0] as Error).message, 'kaput');
  t.is((failed.args[1] as Request).seq, 2);
  t.false(r.closed);
});

test('malformed input: the ProtocolError closes the connection, after the replies owed; a warning is logged', async (t) => {
  const r = await inject({ plugins: [['line', { maxLine: '4b' }]], cwd }, 'hi\nmuch too long\nnever\n');
  t.deepEqual(text(r.replies), ['hi']);
  t.true(r.closed);
  t.is(r.closeReason, 'bad_input');
  t.is(r.error?.name, 'ProtocolError');
  const warning = r.logs.find((l) => l.level === 40);
  t.regex(String(warning?.msg), /bad input: line longer than 4 bytes/);
  t.is(r.hooks.at(-2)?.name, 'connectionLost');
});

test('malformed RESP: the protocol\'s last word (-ERR Protocol error) comes last among the replies', async (t) => {
  const r = await inject({ plugins: ['resp', 'kv'], cwd }, '*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n');
  t.is(r.replies.length, 2);
  t.is(r.replies[0], 'PONG');
  t.true(r.replies[1] instanceof RespError);
  t.regex((r.replies[1] as RespError).message, /Protocol error/);
  t.true(r.closed);
});

test('pushes are told from replies by when the server sent them: connection.send and channel deliveries, sync and async', async (t) => {
  const handler = async (m: Buffer, request: Request) => {
    const connection = request.connection;
    if (!('socket' in connection)) throw new Error('a connection, not a datagram');
    const [command, arg = ''] = String(m).split(' ');
    if (command === 'join') connection.pubsub.subscribe(connection, arg);
    if (command === 'say') return `sent to ${connection.pubsub.publishNow(arg, `${arg}: hello`, connection) as number}`; // to itself too
    if (command === 'later') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      connection.send('after its reply?'); // behind every request already read, "bye" too
    }
    return `${command} done`;
  };
  const r = await inject({ plugins: ['line'], handler, cwd }, 'join news\nsay news\nlater\nbye\n');
  t.deepEqual(text(r.replies), ['join done', 'sent to 1', 'later done', 'bye done']);
  t.deepEqual(text(r.pushes), ['news: hello', 'after its reply?']);
  t.is(String(r.output), 'join done\nnews: hello\nsent to 1\nlater done\nbye done\nafter its reply?\n');
});

test('a push sent as a sync handler runs goes out before its reply (kv\'s SUBSCRIBE of several channels)', async (t) => {
  const r = await inject({ plugins: ['resp', 'kv'], cwd }, { messages: [['SUBSCRIBE', 'a', 'b']] });
  t.deepEqual(r.pushes, [[Buffer.from('subscribe'), Buffer.from('a'), 1]]);
  t.deepEqual(r.replies, [[Buffer.from('subscribe'), Buffer.from('b'), 2]]);
});

test('a request still unanswered after timeout rejects; the server is stopped', async (t) => {
  const err = await t.throwsAsync(inject({ plugins: ['line'], handler: () => new Promise(() => {}), timeout: 300, cwd }, 'x\n'));
  t.is(err.message, 'inject: 1 request(s) still unanswered after 300 ms');
});

test('mistakes: an unknown setting names itself; a plugin that is not found says where it looked', async (t) => {
  await t.throwsAsync(inject({ plugins: ['line'], settings: { maxLines: 3 }, cwd }, 'x\n'), { message: /^unknown setting "maxLines": not a core setting nor one of the plugins' \(maxLine\)$/ });
  await t.throwsAsync(inject({ plugins: ['nope'], cwd }, 'x\n'), { message: /plugin "nope" not found/ });
  await t.throwsAsync(inject({ plugins: ['line'], cwd }, 42 as never), { instanceOf: TypeError });
});

test('websocket: the kit opens with the handshake, sends messages as masked frames and reads the replies; a handler sees the handshake', async (t) => {
  const { handshake } = await import('@socketserver/plugin-websocket');
  const handler = (m: string | Buffer, r: Request) => (typeof m === 'string' ? `${m} at ${handshake(r.connection)?.path}` : m);
  const r = await inject({ plugins: ['websocket'], handler, cwd }, { messages: ['hi', Buffer.from([1, 2, 3])] });
  t.deepEqual(r.replies, ['hi at /', Buffer.from([1, 2, 3])]);
  t.regex(String(r.output), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.false(r.closed);
  // Bytes after the handshake: an unmasked frame breaks RFC 6455 and is closed (1002).
  const bad = await inject({ plugins: ['websocket'], cwd }, Buffer.from([0x81, 0x02, 0x68, 0x69]));
  t.true(bad.closed);
  t.is(bad.closeReason, 'bad_input');
});

