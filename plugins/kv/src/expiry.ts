/** Expiry commands (Redis 7.0): times are absolute ms in the store's expires map. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { AS, INT64_MAX, INT64_MIN, NOT_INTEGER, arg, key, parseInt64, replicating, upper, type CommandTable, type Context } from './command.js';

const NX = 1;
const XX = 2;
const GT = 4;
const LT = 8;

/** EXPIRE's NX|XX|GT|LT after the time, checked as Redis does (before the time is parsed). */
function expireFlags(args: Buffer[]): number | Reply {
  let flags = 0;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if (opt === 'NX') flags |= NX;
    else if (opt === 'XX') flags |= XX;
    else if (opt === 'GT') flags |= GT;
    else if (opt === 'LT') flags |= LT;
    else return error(`ERR Unsupported option ${args[i]!.toString('latin1')}`);
  }
  if (flags & NX && flags & (XX | GT | LT)) return error('ERR NX and XX, GT or LT options at the same time are not compatible');
  if (flags & GT && flags & LT) return error('ERR GT and LT options at the same time are not compatible');
  return flags;
}

/**
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `relative` adds the time to now, `seconds` multiplies it
 * by 1000; a time overflowing 64 bits in ms is refused, one already past deletes the key ('del').
 */
function expireGeneric(args: Buffer[], ctx: Context, name: string, relative: boolean, seconds: boolean): Reply {
  const flags = expireFlags(args);
  if (typeof flags !== 'number') return flags;
  let when = parseInt64(args[2]!);
  if (when === undefined) return NOT_INTEGER;
  const invalid = error(`ERR invalid expire time in '${name}' command`);
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalid;
    when *= 1000n;
  }
  const base = relative ? BigInt(Date.now()) : 0n;
  if (when > INT64_MAX - base) return invalid;
  when += base;
  const k = key(args[1]!);
  if (ctx.store.lookup(k) === undefined) return 0;
  const at = Number(when); // beyond 2^53 ms (285,000 years), rounded
  if (flags !== 0) {
    const current = ctx.store.expires.get(k);
    if (flags & NX && current !== undefined) return 0;
    if (flags & XX && current === undefined) return 0;
    // No expiry counts as an infinite one: never less than a new time, for GT and LT alike.
    if (flags & GT && (current === undefined || at <= current)) return 0;
    if (flags & LT && current !== undefined && at >= current) return 0;
  }
  if (at <= Date.now()) {
    ctx.store.delete(k);
    ctx.store.notify('g', 'del', k);
    if (replicating(ctx)) ctx.store.propagateAs = [[AS.DEL, args[1]!]];
    return 1;
  }
  setExpire(ctx, k, at);
  ctx.store.notify('g', 'expire', k);
  // Replicas get PEXPIREAT at the absolute time, the options kept.
  if (replicating(ctx)) ctx.store.propagateAs = [[AS.PEXPIREAT, args[1]!, arg(when), ...args.slice(3)]];
  return 1;
}

/** Give a live key an expiry (absolute ms), keeping its value. */
export function setExpire(ctx: Context, k: string, at: number): void {
  const entry = ctx.store.data.get(k)!;
  ctx.store.set(k, entry.value, at);
}

/** TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no expiry; seconds rounded to the nearest. */
function ttl(args: Buffer[], ctx: Context, ms: boolean, absolute: boolean): Reply {
  const k = key(args[1]!);
  if (ctx.store.lookup(k) === undefined) return -2;
  const at = ctx.store.expires.get(k);
  if (at === undefined) return -1;
  const left = Math.max(0, absolute ? at : at - Date.now());
  return ms ? left : Math.floor((left + 500) / 1000);
}

export const EXPIRY: CommandTable = {
  expire: { arity: -3, run: (a, ctx) => expireGeneric(a, ctx, 'expire', true, true) },
  pexpire: { arity: -3, run: (a, ctx) => expireGeneric(a, ctx, 'pexpire', true, false) },
  expireat: { arity: -3, run: (a, ctx) => expireGeneric(a, ctx, 'expireat', false, true) },
  pexpireat: { arity: -3, run: (a, ctx) => expireGeneric(a, ctx, 'pexpireat', false, false) },
  ttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, false, false) },
  pttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, true, false) },
  expiretime: { arity: 2, run: (a, ctx) => ttl(a, ctx, false, true) },
  pexpiretime: { arity: 2, run: (a, ctx) => ttl(a, ctx, true, true) },
  persist: {
    arity: 2,
    run: (a, ctx) => {
      const k = key(a[1]!);
      const entry = ctx.store.lookup(k);
      if (entry === undefined || !ctx.store.expires.has(k)) return 0;
      ctx.store.set(k, entry.value); // no expireAt: the expiry is removed
      ctx.store.notify('g', 'persist', k);
      return 1;
    },
  },
};
