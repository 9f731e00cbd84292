/** String commands (Redis 7.0): values are Buffers, binary safe. */
import { ErrorReply, error, type Reply } from '@socketserver/plugin-resp';
import {
  AS, INT64_MAX, INT64_MIN, MAX_STRING, NOT_INTEGER, OK, OOM, OVERFLOW, SYNTAX, addInt64, arg, key, noRoom, parseInt64, replicating, upper, wrongArity,
  type CommandTable, type Context,
} from './command.js';
import { lcs } from './lcs.js';
import { addLongDouble, formatLongDouble, isFinite, parseLongDouble } from './longdouble.js';

const TOO_BIG = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
const NOT_FLOAT = error('ERR value is not a valid float');
const BIT_OFFSET = error('ERR bit offset is not an integer or out of range');
const BIT_VALUE = error('ERR bit is not an integer or out of range');
const EMPTY = Buffer.alloc(0);
const ZERO = { neg: false, m: 0n, e: 0 };

const expireError = (cmd: string): ErrorReply => error(`ERR invalid expire time in '${cmd}' command`);

/**
 * An expiry argument as an absolute time in ms, as Redis's getExpireMillisecondsOrReply: not an
 * integer, not positive, or overflowing 64 bits once in ms (and after adding now) is an error.
 */
function expireTime(arg: Buffer, seconds: boolean, relative: boolean, now: number, cmd: string): number | ErrorReply {
  const n = parseInt64(arg);
  if (n === undefined) return NOT_INTEGER;
  if (n <= 0n || (seconds && n > INT64_MAX / 1000n)) return expireError(cmd);
  let ms = seconds ? n * 1000n : n;
  if (relative) ms += BigInt(now);
  if (ms > INT64_MAX) return expireError(cmd);
  return Number(ms);
}

// Redis's option flags of SET and GETEX, and which others each excludes.
const NX = 1;
const XX = 2;
const GET = 4;
const KEEPTTL = 8;
const PERSIST = 16;
const EX = 32;
const PX = 64;
const EXAT = 128;
const PXAT = 256;
const TIMES = EX | PX | EXAT | PXAT;
const OPTIONS: Readonly<Record<string, readonly [flag: number, excludes: number, set: boolean, get: boolean]>> = {
  NX: [NX, XX, true, false],
  XX: [XX, NX, true, false],
  GET: [GET, 0, true, false],
  KEEPTTL: [KEEPTTL, PERSIST | TIMES, true, false],
  PERSIST: [PERSIST, KEEPTTL | TIMES, false, true],
  EX: [EX, KEEPTTL | PERSIST | (TIMES & ~EX), true, true],
  PX: [PX, KEEPTTL | PERSIST | (TIMES & ~PX), true, true],
  EXAT: [EXAT, KEEPTTL | PERSIST | (TIMES & ~EXAT), true, true],
  PXAT: [PXAT, KEEPTTL | PERSIST | (TIMES & ~PXAT), true, true],
};

interface Parsed {
  flags: number;
  /** The argument of EX, PX, EXAT or PXAT. */
  time?: Buffer;
}

/** SET's options (from argument 3) or GETEX's (from 2): the flags given, or a syntax error as Redis finds it. */
function parseOptions(args: Buffer[], from: number, forSet: boolean): Parsed | ErrorReply {
  let flags = 0;
  let time: Buffer | undefined;
  for (let i = from; i < args.length; i++) {
    const opt = OPTIONS[upper(args[i])];
    if (opt === undefined || (flags & opt[1]) !== 0 || !(forSet ? opt[2] : opt[3])) return SYNTAX;
    if ((opt[0] & TIMES) !== 0) {
      if (i + 1 === args.length) return SYNTAX;
      time = args[++i];
    }
    flags |= opt[0];
  }
  return { flags, time };
}

/** The absolute expiry time the parsed options give (undefined: none), or its error. */
function parsedExpiry(p: Parsed, now: number, cmd: string): number | undefined | ErrorReply {
  if (p.time === undefined) return undefined;
  return expireTime(p.time, (p.flags & (EX | EXAT)) !== 0, (p.flags & (EX | PX)) !== 0, now, cmd);
}

/** SET's options after key and value: the expiry time (absolute ms, or 'keep'), the NX/XX condition and GET, or an error. */
export function parseSetOptions(args: Buffer[], now: number): { expireAt?: number | 'keep'; cond?: 'NX' | 'XX'; get?: true } | ErrorReply {
  const p = parseOptions(args, 3, true);
  if (p instanceof ErrorReply) return p;
  const at = parsedExpiry(p, now, 'set');
  if (at instanceof ErrorReply) return at;
  const expireAt = (p.flags & KEEPTTL) !== 0 ? 'keep' : at;
  const cond = (p.flags & NX) !== 0 ? 'NX' : (p.flags & XX) !== 0 ? 'XX' : undefined;
  return (p.flags & GET) !== 0 ? { expireAt, cond, get: true } : { expireAt, cond };
}


/** SET's work after its options (SETNX, SETEX, PSETEX, GETSET too): false when NX/XX stops it. */
function setWith(ctx: Context, k: string, value: Buffer, expireAt: number | 'keep' | undefined, cond: 'NX' | 'XX' | undefined): boolean {
  if (cond !== undefined && ctx.store.has(k) !== (cond === 'XX')) return false;
  const copy = Buffer.from(value); // a copy: the argument is a view of the read
  ctx.store.set(k, copy, expireAt);
  ctx.store.notify('$', 'set', k);
  if (typeof expireAt === 'number') {
    ctx.store.notify('g', 'expire', k);
    // Replicas get the expiry as an absolute time, whatever form it came in (SETEX, EX, PX…).
    if (replicating(ctx)) ctx.store.propagateAs = [[AS.SET, Buffer.from(k, 'latin1'), copy, AS.PXAT, arg(expireAt)]];
  }
  return true;
}

function set(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  const k = key(a[1]!);
  if (a.length === 3) { // without options (the common case) nothing is parsed, and the clock is not read
    ctx.store.set(k, Buffer.from(a[2]!));
    ctx.store.notify('$', 'set', k);
    return OK;
  }
  const opts = parseSetOptions(a, Date.now());
  if (opts instanceof ErrorReply) return opts;
  if (opts.get === true) {
    const old = ctx.store.get(k) ?? null; // WRONGTYPE before anything is set
    if (setWith(ctx, k, a[2]!, opts.expireAt, opts.cond) && typeof opts.expireAt !== 'number' && replicating(ctx)) {
      ctx.store.propagateAs = [a.filter((b, i) => i < 3 || upper(b) !== 'GET')]; // replicas need no reply
    }
    return old;
  }
  return setWith(ctx, k, a[2]!, opts.expireAt, opts.cond) ? OK : null;
}

/** SETEX and PSETEX: SET with EX or PX. */
function setex(a: Buffer[], ctx: Context, seconds: boolean, cmd: string): Reply {
  if (noRoom(ctx)) return OOM;
  const at = expireTime(a[2]!, seconds, true, Date.now(), cmd);
  if (at instanceof ErrorReply) return at;
  setWith(ctx, key(a[1]!), a[3]!, at, undefined);
  return OK;
}

function getex(a: Buffer[], ctx: Context): Reply {
  const p = parseOptions(a, 2, false);
  if (p instanceof ErrorReply) return p;
  const k = key(a[1]!);
  const value = ctx.store.get(k);
  if (value === undefined) return null;
  const now = Date.now();
  const at = parsedExpiry(p, now, 'getex');
  if (at instanceof ErrorReply) return at;
  // Replicas get what it did: DEL, PEXPIREAT at an absolute time, PERSIST (nothing when nothing changed).
  if ((p.flags & (EXAT | PXAT)) !== 0 && at! <= now) { // a time already past: the key goes
    ctx.store.delete(k);
    ctx.store.notify('g', 'del', k);
    if (replicating(ctx)) ctx.store.propagateAs = [[AS.DEL, a[1]!]];
  } else if (at !== undefined) {
    ctx.store.set(k, value, at);
    ctx.store.notify('g', 'expire', k);
    if (replicating(ctx)) ctx.store.propagateAs = [[AS.PEXPIREAT, a[1]!, arg(at)]];
  } else if ((p.flags & PERSIST) !== 0 && ctx.store.expires.has(k)) {
    ctx.store.set(k, value);
    ctx.store.notify('g', 'persist', k);
    if (replicating(ctx)) ctx.store.propagateAs = [[AS.PERSIST, a[1]!]];
  }
  return value;
}

/** INCR, DECR, INCRBY, DECRBY once the increment is known (OOM checked by the caller, first). */
function incrBy(ctx: Context, k: Buffer, by: bigint): Reply {
  const name = key(k);
  const old = ctx.store.get(name);
  const cur = old === undefined ? 0n : parseInt64(old);
  if (cur === undefined) return NOT_INTEGER;
  const next = addInt64(cur, by);
  if (next === undefined) return OVERFLOW;
  ctx.store.set(name, Buffer.from(String(next)), 'keep');
  ctx.store.notify('$', 'incrby', name);
  return next;
}

function incrByFloat(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  const k = key(a[1]!);
  const old = ctx.store.get(k);
  const cur = old === undefined ? ZERO : parseLongDouble(old);
  const by = parseLongDouble(a[2]!);
  if (cur === undefined || by === undefined) return NOT_FLOAT;
  const sum = addLongDouble(cur, by);
  if (!isFinite(sum)) return error('ERR increment would produce NaN or Infinity');
  const value = Buffer.from(formatLongDouble(sum), 'latin1');
  ctx.store.set(k, value, 'keep');
  ctx.store.notify('$', 'incrbyfloat', k);
  // The result, not the increment: a replica's arithmetic could round otherwise.
  if (replicating(ctx)) ctx.store.propagateAs = [[AS.SET, a[1]!, value, AS.KEEPTTL]];
  return value;
}

/** MSET and MSETNX: pairs of key and value; with `nx`, nothing is set if one key exists. */
function mset(a: Buffer[], ctx: Context, nx: boolean): Reply {
  if (noRoom(ctx)) return OOM;
  if (a.length % 2 === 0) return wrongArity(nx ? 'msetnx' : 'mset');
  const adding = (a.length - 1) / 2;
  if (noRoom(ctx, adding)) return OOM;
  if (nx) for (let i = 1; i < a.length; i += 2) if (ctx.store.has(key(a[i]!))) return 0;
  for (let i = 1; i < a.length; i += 2) {
    const k = key(a[i]!);
    ctx.store.set(k, Buffer.from(a[i + 1]!));
    ctx.store.notify('$', 'set', k);
  }
  return nx ? 1 : OK;
}

/**
 * How far the memory of each value grown in place (APPEND, SETRANGE, SETBIT past the end) is
 * used. A GET's reply may still hold a value's bytes until the batch of replies is written, so
 * bytes below the mark are never written again: growing writes only past it, and changing
 * bytes within a value copies it.
 */
const marks = new WeakMap<ArrayBufferLike, number>();

/** Whether a string was changed in place since it was set (APPEND, SETRANGE, SETBIT): Redis's raw encoding then. */
export const changedInPlace = (value: Buffer): boolean => marks.has(value.buffer);

/** Room for a string growing to `length` bytes, as Redis's sds: double up to 1 MB, then 1 MB more. */
const capacity = (length: number): number => Math.min(MAX_STRING, length < 1 << 20 ? length * 2 : length + (1 << 20));

/**
 * `value` made `length` bytes long, zeros after its own bytes; in place (a new view of the same
 * memory) when nothing else uses the memory after it, else a copy. With `copy`, always a copy,
 * for writing within the old bytes.
 */
function lengthen(value: Buffer, length: number, copy = false): Buffer {
  const end = value.byteOffset + value.length;
  if (!copy && marks.get(value.buffer) === end && value.byteOffset + length <= value.buffer.byteLength) {
    marks.set(value.buffer, value.byteOffset + length);
    return Buffer.from(value.buffer, value.byteOffset, length).fill(0, value.length);
  }
  const out = Buffer.allocUnsafeSlow(value.length === 0 ? length : capacity(length)); // its own memory, not the shared pool
  value.copy(out);
  out.fill(0, value.length, length);
  marks.set(out.buffer, length);
  return out.subarray(0, length);
}

/** A command about to make a string `length` bytes long: Redis's size limit; and kv's memory limit (`--maxmemory`), before any allocation. */
function tooBig(ctx: Context, length: number, growth: number): ErrorReply | undefined {
  if (length > MAX_STRING) return TOO_BIG;
  const store = ctx.store;
  if (store.maxmemory !== 0 && store.used + growth > store.maxmemory) return OOM;
  return undefined;
}

function append(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  const k = key(a[1]!);
  const old = ctx.store.get(k);
  const tail = a[2]!;
  let value: Buffer;
  if (old === undefined) {
    value = Buffer.from(tail);
    ctx.store.set(k, value);
  } else {
    const err = tooBig(ctx, old.length + tail.length, tail.length);
    if (err !== undefined) return err;
    value = old;
    if (tail.length > 0) {
      value = lengthen(old, old.length + tail.length);
      tail.copy(value, old.length);
      ctx.store.set(k, value, 'keep');
    }
  }
  ctx.store.notify('$', 'append', k);
  return value.length;
}

function setrange(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  const n = parseInt64(a[2]!);
  if (n === undefined) return NOT_INTEGER;
  if (n < 0n) return error('ERR offset is out of range');
  const k = key(a[1]!);
  const old = ctx.store.get(k);
  const part = a[3]!;
  if (part.length === 0) return old?.length ?? 0; // nothing set, no key made
  if (n > BigInt(MAX_STRING)) return TOO_BIG;
  const offset = Number(n);
  const length = Math.max(old?.length ?? 0, offset + part.length);
  const err = tooBig(ctx, offset + part.length, length - (old?.length ?? 0));
  if (err !== undefined) return err;
  const value = lengthen(old ?? EMPTY, length, old !== undefined && offset < old.length);
  part.copy(value, offset);
  ctx.store.set(k, value, 'keep');
  ctx.store.notify('$', 'setrange', k);
  return value.length;
}

function getrange(a: Buffer[], ctx: Context): Reply {
  let start = parseInt64(a[2]!);
  let end = parseInt64(a[3]!);
  if (start === undefined || end === undefined) return NOT_INTEGER;
  const value = ctx.store.get(key(a[1]!));
  if (value === undefined) return EMPTY;
  if (start < 0n && end < 0n && start > end) return EMPTY;
  const length = BigInt(value.length);
  if (start < 0n) start += length;
  if (end < 0n) end += length;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= length) end = length - 1n;
  if (start > end || length === 0n) return EMPTY;
  return value.subarray(Number(start), Number(end) + 1);
}

/** A bit offset as Redis takes it: an integer from 0 to below 2^32 (512 MB of bits). */
function bitOffset(arg: Buffer): number | undefined {
  const n = parseInt64(arg);
  return n === undefined || n < 0n || n >> 3n >= BigInt(MAX_STRING) ? undefined : Number(n);
}

function setbit(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  const offset = bitOffset(a[2]!);
  if (offset === undefined) return BIT_OFFSET;
  const on = parseInt64(a[3]!);
  if (on === undefined || (on !== 0n && on !== 1n)) return BIT_VALUE;
  const k = key(a[1]!);
  const old = ctx.store.get(k);
  const byte = offset >>> 3;
  const mask = 1 << (7 - (offset & 7));
  const grows = old === undefined || byte >= old.length;
  if (grows) {
    const err = tooBig(ctx, byte + 1, byte + 1 - (old?.length ?? 0));
    if (err !== undefined) return err;
  }
  const was = old !== undefined && byte < old.length ? old[byte]! & mask : 0;
  if (grows || (was !== 0) !== (on === 1n)) {
    const value = lengthen(old ?? EMPTY, grows ? byte + 1 : old.length, !grows);
    value[byte] = on === 1n ? value[byte]! | mask : value[byte]! & ~mask;
    ctx.store.set(k, value, 'keep');
    ctx.store.notify('$', 'setbit', k);
  }
  return was !== 0 ? 1 : 0;
}

function getbit(a: Buffer[], ctx: Context): Reply {
  const offset = bitOffset(a[2]!);
  if (offset === undefined) return BIT_OFFSET;
  const value = ctx.store.get(key(a[1]!));
  const byte = offset >>> 3;
  return value !== undefined && byte < value.length && (value[byte]! & (1 << (7 - (offset & 7)))) !== 0 ? 1 : 0;
}

export const STRINGS: CommandTable = {
  get: { arity: 2, run: (a, ctx) => ctx.store.get(key(a[1]!)) ?? null },
  set: { arity: -3, run: set },
  setnx: { arity: 3, run: (a, ctx) => (noRoom(ctx) ? OOM : setWith(ctx, key(a[1]!), a[2]!, undefined, 'NX') ? 1 : 0) },
  setex: { arity: 4, run: (a, ctx) => setex(a, ctx, true, 'setex') },
  psetex: { arity: 4, run: (a, ctx) => setex(a, ctx, false, 'psetex') },
  getex: { arity: -2, run: getex },
  getdel: {
    arity: 2,
    run: (a, ctx) => {
      const k = key(a[1]!);
      const value = ctx.store.get(k);
      if (value === undefined) return null;
      ctx.store.delete(k);
      ctx.store.notify('g', 'del', k);
      if (replicating(ctx)) ctx.store.propagateAs = [[AS.DEL, a[1]!]];
      return value;
    },
  },
  getset: {
    arity: 3,
    run: (a, ctx) => {
      if (noRoom(ctx)) return OOM;
      const k = key(a[1]!);
      const old = ctx.store.get(k) ?? null;
      setWith(ctx, k, a[2]!, undefined, undefined);
      if (replicating(ctx)) ctx.store.propagateAs = [[AS.SET, a[1]!, a[2]!]];
      return old;
    },
  },
  strlen: { arity: 2, run: (a, ctx) => ctx.store.get(key(a[1]!))?.length ?? 0 },
  append: { arity: 3, run: append },
  getrange: { arity: 4, run: getrange },
  substr: { arity: 4, run: getrange },
  setrange: { arity: 4, run: setrange },
  setbit: { arity: 4, run: setbit },
  getbit: { arity: 3, run: getbit },
  lcs: { arity: -3, run: lcs },
  incr: { arity: 2, run: (a, ctx) => (noRoom(ctx) ? OOM : incrBy(ctx, a[1]!, 1n)) },
  decr: { arity: 2, run: (a, ctx) => (noRoom(ctx) ? OOM : incrBy(ctx, a[1]!, -1n)) },
  incrby: {
    arity: 3,
    run: (a, ctx) => {
      if (noRoom(ctx)) return OOM;
      const n = parseInt64(a[2]!);
      return n === undefined ? NOT_INTEGER : incrBy(ctx, a[1]!, n);
    },
  },
  decrby: {
    arity: 3,
    run: (a, ctx) => {
      if (noRoom(ctx)) return OOM;
      const n = parseInt64(a[2]!);
      if (n === undefined) return NOT_INTEGER;
      return n === INT64_MIN ? error('ERR decrement would overflow') : incrBy(ctx, a[1]!, -n);
    },
  },
  incrbyfloat: { arity: 3, run: incrByFloat },
  mget: {
    arity: -2,
    run: (a, ctx) => a.slice(1).map((k) => { const e = ctx.store.lookup(key(k)); return e !== undefined && e.value instanceof Buffer ? e.value : null; }),
  },
  mset: { arity: -3, run: (a, ctx) => mset(a, ctx, false) },
  msetnx: { arity: -3, run: (a, ctx) => mset(a, ctx, true) },
};
