import test, { type ExecutionContext } from 'ava';
import { ask, Client } from '../helpers/client.js';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/temp.js';
import { type SsProcess, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

const TS_HANDLER = './test/fixtures/runtime/handler.ts';
/** Results and errors a handler should never crash a worker with, each named by its message. */
const ODD = './test/fixtures/runtime/odd-reply-handler.mjs';

test('replies keep request order when an async handler finishes out of order (pipelining)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', TS_HANDLER]);
  const c = await Client.open(ss.port);
  c.send('slow:300:first\nslow:100:second\nthird\nnone\nslow:10:fifth\n');
  t.deepEqual(await c.lines(4), ['first', 'second', 'third', 'fifth'], '"none" gets no reply; order is kept');
  c.destroy();
});

test('a throwing handler closes that connection with a log line; others are served', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/sync-handler.mjs']);
  const other = await Client.open(ss.port);
  const c = await Client.open(ss.port);
  c.send('fine\nboom\nnever\n');
  t.deepEqual(await c.lines(1), ['FINE']);
  await c.waitClose();
  const line = await ss.waitForLog((l) => l.level === 50 && /handler failed/.test(l.msg));
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): handler failed: sync handler exploded on purpose; closed$/);
  t.is(line.conn, 2);
  other.send('still\n');
  t.deepEqual(await other.lines(1), ['STILL']);
  other.destroy();
});

test('a rejecting async handler closes that connection with a log line; others are served', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', TS_HANDLER]);
  const c = await Client.open(ss.port);
  c.send('ok\nreject\n');
  t.deepEqual(await c.lines(1), ['ok']);
  await c.waitClose();
  const line = await ss.waitForLog((l) => l.level === 50 && /handler failed/.test(l.msg));
  t.regex(line.msg, /handler failed: handler rejected on purpose; closed$/);
  const d = await Client.open(ss.port);
  d.send('again\n');
  t.deepEqual(await d.lines(1), ['again']);
  d.destroy();
});

test('the client closing its side still gets every reply (half-close)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', TS_HANDLER]);
  const c = await Client.open(ss.port);
  c.send('slow:200:a\nb\n');
  c.end();
  await c.waitClose();
  t.is(String(c.received), 'a\nb\n');
});

test('a plugin may supply the handler (built from its settings); --handler takes precedence', async (t) => {
  const plugin = ['--plugin', 'line', '--plugin', './test/fixtures/runtime/shout-handler.mjs'];
  const ss = await startSs(t, [...plugin, '--mark', '?']);
  const c = await Client.open(ss.port);
  c.send('hello\n');
  t.deepEqual(await c.lines(1), ['HELLO?']);
  c.destroy();

  const given = await startSs(t, [...plugin, '--handler', './test/fixtures/runtime/sync-handler.mjs']);
  const d = await Client.open(given.port);
  d.send('quiet\n');
  t.deepEqual(await d.lines(1), ['QUIET'], 'sync-handler.mjs answers, not the plugin (which would add "!")');
  d.destroy();
});

/** `bystander` is still open and answered, so the process serving it did not go down. */
async function stillServed(t: ExecutionContext, bystander: Client, ping: string, reply: string): Promise<void> {
  t.false(bystander.closed, 'the other client of the worker is still connected');
  bystander.send(ping);
  t.is(String(await bystander.read(reply.length)), reply);
}

/** A fresh client sends `message`; it is closed and a log line names it and `reason`. */
async function closedWithLog(t: ExecutionContext, ss: SsProcess, message: string, reason: RegExp): Promise<void> {
  const c = await Client.open(ss.port);
  c.send(message);
  await c.waitClose();
  const line = await ss.waitForLog((l) => l.level >= 40 && l.peer === `127.0.0.1:${c.localPort}`);
  t.regex(line.msg, reason, message);
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): .*; closed$/);
}

test('echo, one worker: a handler returning null sends nothing, and no result or error of a handler takes the worker down', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '1', '--handler', ODD]);
  const bystander = await Client.open(ss.port);
  await stillServed(t, bystander, 'hello', 'hello');

  const c = await Client.open(ss.port);
  for (const none of ['null', 'async-null']) {
    c.send(none);
    await sleep(200); // a read of its own (echo: one read is one message)
  }
  c.send('after');
  t.is(String(await c.read(5)), 'after', 'null and a promise of null are no reply; the connection stays open');
  await stillServed(t, bystander, 'ping', 'ping');

  const notBytes = /cannot encode reply: protocol encode returned (a number|an object), not a string, Buffer or Uint8Array/;
  await closedWithLog(t, ss, 'number', notBytes);
  await closedWithLog(t, ss, 'object', notBytes);
  await closedWithLog(t, ss, 'async-number', notBytes);
  await closedWithLog(t, ss, 'throw-odd', /handler failed: /);
  await closedWithLog(t, ss, 'reject-odd', /handler failed: /);
  await closedWithLog(t, ss, 'bad-thenable', /handler failed: then getter exploded/);
  await stillServed(t, bystander, 'still', 'still');
  t.false(ss.logs.some((l) => /worker .*(exited|died|crashed)/i.test(l.msg)), 'no worker went down');
  c.destroy();
  bystander.destroy();
});

test('line (encodeInto), one worker: null is no reply; a reply it cannot encode closes that connection only', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', ODD]);
  const bystander = await Client.open(ss.port);
  const c = await Client.open(ss.port);
  c.send('null\nasync-null\nafter\n');
  t.deepEqual(await c.lines(1), ['after']);
  t.false(c.closed);
  await closedWithLog(t, ss, 'first\nnumber\n', /cannot encode reply: /);
  await closedWithLog(t, ss, 'object\n', /cannot encode reply: /);
  await stillServed(t, bystander, 'ping\n', 'ping\n');
  c.destroy();
  bystander.destroy();
});

test('a reply that cannot be encoded still lets the replies before it in the same write go out', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', ODD]);
  const c = await Client.open(ss.port);
  c.send('one\ntwo\nnumber\nthree\n');
  await c.waitClose();
  t.is(String(c.received), 'one\ntwo\n');
});

const THROWING = join(FIXTURES, 'runtime', 'throwing-handler.mjs');
const ERROR_REPLIES = join(FIXTURES, 'runtime', 'error-replies.mjs');

test('handlerError: a tap turns a handler\'s throw or rejection into a reply and the connection goes on; a tap giving nothing leaves the close', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', THROWING, '--plugin', ERROR_REPLIES]);
  const c = await Client.open(ss.port);
  c.send('boom\nreject\nhello\n');
  t.deepEqual(await c.lines(3), ['error in request 1: sync boom', 'error in request 2: async boom', 'hello'], 'in request order');
  c.send('leave\n');
  await c.waitClose(10_000);
  t.true(c.closed, 'closed, as without the hook');
  t.is(await ask(ss.port, 'still serving'), 'still serving');
});

test('handlerError with resp: a failed command is answered -ERR, as Redis answers a command that fails', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--workers', '1', '--handler', THROWING, '--plugin', ERROR_REPLIES]);
  const c = await Client.open(ss.port);
  c.send('*1\r\n$4\r\nboom\r\n*1\r\n$6\r\nreject\r\n*1\r\n$4\r\nPING\r\n');
  const expected = '-ERR sync boom\r\n-ERR async boom\r\n$2\r\nOK\r\n'; // the handler's 'OK' is a bulk string
  t.is((await c.read(Buffer.byteLength(expected))).toString(), expected);
});
