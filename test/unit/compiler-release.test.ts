import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@socketserver/core/process';
import { pipeline } from '../helpers/pipeline.js';

// An empty compile cache: with the handler already compiled there, the compiler would not load at all.
process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'ss-cache-'));
test.after.always(() => rmSync(process.env.XDG_CACHE_HOME!, { recursive: true, force: true }));

test('serving lets go of the TypeScript compiler and undoes its global changes to Error', async (t) => {
  const original = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
  // An enum: jiti compiles it on every Node, even one that strips types itself.
  const { app } = await pipeline({ plugin: ['echo'], bind: '127.0.0.1:0', handler: './test/fixtures/runtime/enum-handler.ts' });
  t.not(Error.stackTraceLimit, original.limit, 'the compiler did change it while loading');
  const running = await serve(app, { signals: false });
  t.teardown(() => running.stop('quick'));
  t.is(Error.stackTraceLimit, original.limit);
  t.is(Error.prepareStackTrace, original.prepare);
});
