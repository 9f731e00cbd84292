/** Key-space commands (Redis 7.0): on keys whatever their values. */
import { compileGlob } from '@socketserver/core';
import { error } from '@socketserver/plugin-resp';
import { OK, key, parseInt64, type CommandTable } from './command.js';

export const KEYS: CommandTable = {
  del: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k)) && ctx.store.delete(key(k))).length },
  exists: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k))).length },
  keys: {
    arity: 2,
    run: (a, ctx) => {
      // `*` takes every key, the empty one too (as Redis: it skips matching then).
      const pattern = key(a[1]!);
      return ctx.store.keys(pattern === '*' ? undefined : compileGlob(pattern));
    },
  },
  dbsize: { arity: 1, run: (_a, ctx) => ctx.store.data.size },
  flushall: { arity: -1, run: (_a, ctx) => { ctx.store.clear(); return OK; } },
  flushdb: { arity: -1, run: (_a, ctx) => { ctx.store.clear(); return OK; } },
  select: { arity: 2, run: (a) => { const n = parseInt64(a[1]!); return n === undefined ? error('ERR value is not an integer or out of range') : n === 0n ? OK : error('ERR DB index is out of range'); } },
};
