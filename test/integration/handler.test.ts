import test from 'ava';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';

const TS_HANDLER = './test/fixtures/runtime/handler.ts';

test('replies keep request order when an async handler finishes out of order (pipelining)', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--handler', TS_HANDLER]);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  c.send('slow:300:first\nslow:100:second\nthird\nnone\nslow:10:fifth\n');
  t.deepEqual(await c.lines(4), ['first', 'second', 'third', 'fifth'], '"none" gets no reply; order is kept');
  c.destroy();
});

test('a throwing handler closes that connection with a log line; others are served', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--handler', './test/fixtures/runtime/sync-handler.mjs']);
  t.teardown(() => ss.stop());
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
  const ss = await startSs(['--plugin', 'line', '--handler', TS_HANDLER]);
  t.teardown(() => ss.stop());
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
  const ss = await startSs(['--plugin', 'line', '--handler', TS_HANDLER]);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  c.send('slow:200:a\nb\n');
  c.end();
  await c.waitClose();
  t.is(String(c.received), 'a\nb\n');
});

test('a plugin may supply the handler (built from its settings); --handler takes precedence', async (t) => {
  const plugin = ['--plugin', 'line', '--plugin', './test/fixtures/runtime/shout-handler.mjs'];
  const ss = await startSs([...plugin, '--mark', '?']);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  c.send('hello\n');
  t.deepEqual(await c.lines(1), ['HELLO?']);
  c.destroy();

  const given = await startSs([...plugin, '--handler', './test/fixtures/runtime/sync-handler.mjs']);
  t.teardown(() => given.stop());
  const d = await Client.open(given.port);
  d.send('quiet\n');
  t.deepEqual(await d.lines(1), ['QUIET'], 'sync-handler.mjs answers, not the plugin (which would add "!")');
  d.destroy();
});
