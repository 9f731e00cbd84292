/** Key-space commands (Redis 7.0): on keys whatever their values. */
import { compileGlob } from '@socketserver/core';
import { error, simple, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OK, SYNTAX, key, parseInt64, unknownSubcommand, upper, wrongArity, type CommandTable, type Context } from './command.js';
import type { Held } from './collection.js';
import { typeOf, type Value } from './store.js';
import { changedInPlace } from './strings.js';

const NO_SUCH_KEY = error('ERR no such key');
/** Redis's shared integers (0 to 9999) answer OBJECT REFCOUNT with INT_MAX. */
const SHARED_REFCOUNT = 2147483647;

/** DEL and UNLINK: each key deleted is told ('del'). */
function del(a: Buffer[], ctx: Context): Reply {
  let n = 0;
  for (let i = 1; i < a.length; i++) {
    const k = key(a[i]!);
    if (!ctx.store.has(k)) continue; // an expired key is removed here, and not counted
    ctx.store.delete(k);
    ctx.store.notify('g', 'del', k);
    n++;
  }
  return n;
}

/** FLUSHALL and FLUSHDB: ASYNC and SYNC are accepted (both empty the store at once). */
function flush(a: Buffer[], ctx: Context): Reply {
  if (a.length > 2 || (a.length === 2 && upper(a[1]) !== 'ASYNC' && upper(a[1]) !== 'SYNC')) return SYNTAX;
  ctx.store.clear();
  return OK;
}

/** A value copied for COPY: a string's bytes, or a collection cloned deeply. */
const copyOf = (value: Value): Value => (value instanceof Buffer ? Buffer.from(value) : (value as Held).clone());

function rename(a: Buffer[], ctx: Context, nx: boolean): Reply {
  const from = key(a[1]!);
  const to = key(a[2]!);
  const entry = ctx.store.lookup(from);
  if (entry === undefined) return NO_SUCH_KEY;
  if (from === to) return nx ? 0 : OK;
  const at = ctx.store.expires.get(from);
  if (ctx.store.lookup(to) !== undefined) {
    if (nx) return 0;
    ctx.store.delete(to);
  }
  const value = entry.value;
  ctx.store.delete(from);
  ctx.store.set(to, value, at);
  ctx.store.notify('g', 'rename_from', from);
  ctx.store.notify('g', 'rename_to', to);
  return nx ? 1 : OK;
}

function copy(a: Buffer[], ctx: Context): Reply {
  let replace = false;
  for (let i = 3; i < a.length; i++) {
    const opt = upper(a[i]);
    if (opt === 'REPLACE') {
      replace = true;
    } else if (opt === 'DB' && i + 1 < a.length) {
      // One database: DB 0 is this one, any other is out of range (as Redis with `databases 1`).
      const db = parseInt64(a[++i]!);
      if (db === undefined || db < -(2n ** 31n) || db >= 2n ** 31n) return NOT_INTEGER;
      if (db !== 0n) return error('ERR DB index is out of range');
    } else {
      return SYNTAX;
    }
  }
  const from = key(a[1]!);
  const to = key(a[2]!);
  if (from === to) return error('ERR source and destination objects are the same');
  const entry = ctx.store.lookup(from);
  if (entry === undefined) return 0;
  const at = ctx.store.expires.get(from);
  if (ctx.store.lookup(to) !== undefined) {
    if (!replace) return 0;
    ctx.store.delete(to);
  }
  ctx.store.set(to, copyOf(entry.value), at);
  ctx.store.notify('g', 'copy_to', to);
  return 1;
}

/**
 * A live key drawn at random, or null. A Map has no random access: the walk starts at a random
 * place and takes the first live key from there, wrapping round once, so it is O(n) at worst
 * (as rare a command as KEYS) even when most keys have expired (those passed are deleted).
 */
function randomKey(ctx: Context): Reply {
  const store = ctx.store;
  const start = Math.floor(Math.random() * store.data.size);
  for (let pass = 0; pass < 2; pass++) {
    let i = 0;
    for (const k of store.data.keys()) {
      if (pass === 0 ? i++ < start : i++ >= start) {
        if (pass === 0) continue;
        break;
      }
      if (store.lookup(k) !== undefined) return Buffer.from(k, 'latin1');
    }
  }
  return null;
}

/** OBJECT ENCODING of a string as Redis 7.0 stores one a client SET (int, embstr up to 44 bytes, raw), or raw once changed in place. */
function stringEncoding(b: Buffer): string {
  if (changedInPlace(b)) return 'raw'; // as Redis's sds, grown or written into
  if (b.length <= 20 && parseInt64(b) !== undefined) return 'int';
  return b.length <= 44 ? 'embstr' : 'raw';
}

const OBJECT_HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
].map(simple);

function object(a: Buffer[], ctx: Context): Reply {
  const sub = upper(a[1]);
  if (sub === 'HELP') return a.length === 2 ? OBJECT_HELP : wrongArity('object|help');
  if (sub !== 'ENCODING' && sub !== 'REFCOUNT' && sub !== 'IDLETIME' && sub !== 'FREQ') return unknownSubcommand(a[1]!, 'OBJECT');
  if (a.length !== 3) return wrongArity(`object|${sub.toLowerCase()}`);
  const value = ctx.store.lookup(key(a[2]!))?.value;
  if (value === undefined) return null;
  if (sub === 'ENCODING') return value instanceof Buffer ? stringEncoding(value) : (value as Held).encoding;
  if (sub === 'REFCOUNT') {
    const shared = value instanceof Buffer && (ctx.store.policy === 'noeviction' || ctx.store.maxmemory === 0) && stringEncoding(value) === 'int'
      && BigInt(value.toString('latin1')) >= 0n && BigInt(value.toString('latin1')) < 10000n;
    return shared ? SHARED_REFCOUNT : 1;
  }
  if (sub === 'FREQ') {
    return error('ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.');
  }
  return 0; // IDLETIME: the store keeps an access order, not times
}

export const KEYS: CommandTable = {
  del: { arity: -2, run: del },
  unlink: { arity: -2, run: del },
  exists: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k))).length },
  touch: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k))).length },
  keys: {
    arity: 2,
    run: (a, ctx) => {
      // `*` takes every key, the empty one too (as Redis: it skips matching then).
      const pattern = key(a[1]!);
      return ctx.store.keys(pattern === '*' ? undefined : compileGlob(pattern));
    },
  },
  type: {
    arity: 2,
    run: (a, ctx) => {
      const entry = ctx.store.lookup(key(a[1]!));
      return simple(entry === undefined ? 'none' : typeOf(entry.value));
    },
  },
  rename: { arity: 3, run: (a, ctx) => rename(a, ctx, false) },
  renamenx: { arity: 3, run: (a, ctx) => rename(a, ctx, true) },
  copy: { arity: -3, run: copy },
  randomkey: { arity: 1, run: (_a, ctx) => randomKey(ctx) },
  object: { arity: -2, run: object },
  dbsize: { arity: 1, run: (_a, ctx) => ctx.store.data.size },
  flushall: { arity: -1, run: flush },
  flushdb: { arity: -1, run: flush },
  select: { arity: 2, run: (a) => { const n = parseInt64(a[1]!); return n === undefined ? NOT_INTEGER : n === 0n ? OK : error('ERR DB index is out of range'); } },
};
