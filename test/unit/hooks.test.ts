import test from 'ava';
import type { Worker } from '@socketserver/core';
import { pipeline } from '../helpers/pipeline.js';

async function appWithErrors() {
  const { app, server } = await pipeline({ plugin: ['line'], 'plugin-timeout': '0.3' });
  const errors: string[] = [];
  app.log.error = ((_fields: unknown, msg: string) => { errors.push(msg); }) as typeof app.log.error;
  const worker: Worker = { id: 0, pid: process.pid, name: app.name, app, cfg: app.cfg, stats: server };
  return { app, errors, worker };
}

test('async hooks (workerStop): a failing tap of any style is logged with its name and the others still run', async (t) => {
  const { app, errors, worker } = await appWithErrors();
  const ran: string[] = [];
  app.hooks.workerStop.tap('sync-throws', () => { throw new Error('sync'); });
  app.hooks.workerStop.tapPromise('promise-rejects', async () => { throw new Error('promise'); });
  app.hooks.workerStop.tapAsync('callback-errs', (_w, cb) => cb(new Error('callback')));
  app.hooks.workerStop.tapPromise('fine', async () => { ran.push('fine'); });
  app.hooks.workerStop.tapAsync('fine-callback', (_w, cb) => { ran.push('fine-callback'); cb(); });
  await t.notThrowsAsync(app.hooks.workerStop.promise(worker));
  t.deepEqual(ran, ['fine', 'fine-callback']);
  t.deepEqual(errors, [
    'plugin "sync-throws" failed in workerStop: sync',
    'plugin "promise-rejects" failed in workerStop: promise',
    'plugin "callback-errs" failed in workerStop: callback',
  ]);
});

test('info waterfall: tap, tapPromise and tapAsync all add; a failing one passes its input on', async (t) => {
  const { app, errors } = await appWithErrors();
  app.hooks.info.tap('a', (info, place) => ({ ...info, a: place }));
  app.hooks.info.tapAsync('b', (info, _place, cb) => cb(null, { ...info, b: 2 }));
  app.hooks.info.tapAsync('broken', (_info, _place, cb) => cb(new Error('no info today')));
  app.hooks.info.tapPromise('c', async (info) => ({ ...info, c: 3 }));
  t.deepEqual(await app.info({ base: true } as never, 'worker'), { base: true, a: 'worker', b: 2, c: 3 }); // a stand-in for an entry
  t.deepEqual(errors, ['plugin "broken" failed in info: no info today']);
});

test('start-up hooks: a failure or a time-out rejects, naming the plugin; later taps do not run', async (t) => {
  const { app, worker } = await appWithErrors();
  let later = false;
  app.hooks.workerStart.tapPromise('slow', () => new Promise(() => {}));
  app.hooks.workerStart.tap('later', () => { later = true; });
  await t.throwsAsync(app.hooks.workerStart.promise(worker), { name: 'StartupError', message: 'plugin "slow" did not finish workerStart within 0.3s' });
  t.false(later);
});

test('sync per-request hooks: a throwing tap is logged and the next tap still runs', async (t) => {
  const { app, errors } = await appWithErrors();
  const seen: number[] = [];
  app.hooks.preRequest.tap('throws', () => { throw new Error('boom'); });
  app.hooks.preRequest.tap('counts', (request) => { seen.push(request.seq); });
  app.hooks.preRequest.call({ seq: 7 } as never);
  t.deepEqual(seen, [7]);
  t.deepEqual(errors, ['plugin "throws" failed in preRequest: boom']);
});
