import test from 'ava';
import { serve } from '@socketserver/core/process';
import { pipeline } from '../helpers/pipeline.js';

test('info: the document of §9 through the info waterfall; a throwing tap is logged and skipped', async (t) => {
  const { app } = await pipeline({ plugin: ['line'], bind: '127.0.0.1:0' });
  const errors: string[] = [];
  app.log.error = ((_fields: unknown, msg: string) => { errors.push(msg); }) as typeof app.log.error;
  app.hooks.info.tap('adds', (info) => ({ ...info, extra: { answer: 42 } }));
  app.hooks.info.tap('breaks', () => { throw new Error('info tap exploded'); });
  app.hooks.info.tapPromise('adds-later', async (info) => ({ ...info, later: true }));
  const running = await serve(app, { signals: false });
  t.teardown(() => running.stop('quick'));
  const info = await running.info();
  t.is(info.arbiter.pid, process.pid);
  t.is(info.arbiter.state, 'running');
  t.regex(info.arbiter.version, /^\d+\.\d+\.\d+/);
  t.deepEqual(info.monitors[0].name, 'line');
  t.regex(info.monitors[0].addresses[0], /^127\.0\.0\.1:[1-9]\d*$/);
  // One process (workers 0) is worker and arbiter: the taps ran over its entry, then over the document.
  t.deepEqual(Object.keys(info.workers[0]).sort(), ['connections', 'droppedLogLines', 'extra', 'hooks', 'id', 'later', 'memory', 'pid', 'requests', 'server', 'state', 'stats', 'uptime']);
  t.deepEqual(info.extra, { answer: 42 }, 'a tap added to it');
  t.true(info.later, 'taps after a throwing one still ran');
  t.deepEqual(errors, ['plugin "breaks" failed in info: info tap exploded', 'plugin "breaks" failed in info: info tap exploded']);
});
