/** What the other types' families (lists, sets, hashes, sorted sets, streams) share. */
import { WRONGTYPE, key, noRoom, type Context } from './command.js';
import type { Collection } from './store.js';

/** A value of another type as its family holds it: OBJECT ENCODING's answer, and a deep copy for COPY. */
export interface Held extends Collection {
  /** Redis 7.0's encoding name for a value of this size (listpack, intset, hashtable, quicklist…). */
  readonly encoding: string;
  clone(): Held;
}

/** Estimated bytes an element costs beyond its own bytes (a Map or array slot, its string or Buffer header). */
export const ELEMENT_OVERHEAD = 64;

/**
 * The sizes under which Redis keeps small values compact (its *-max-listpack-* and
 * set-max-intset-entries parameters, at redis-server's defaults; CONFIG SET changes them, per
 * process): they decide OBJECT ENCODING only.
 */
export const ENCODING_LIMITS = {
  hashMaxListpackEntries: 512,
  hashMaxListpackValue: 64,
  zsetMaxListpackEntries: 128,
  zsetMaxListpackValue: 64,
  setMaxIntsetEntries: 512,
};

/** Whether Redis would hold this member as an integer (string2ll): an intset member. */
export function isInt64(b: Buffer | string): boolean {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  if (!/^-?(?:0|[1-9][0-9]{0,18})$/.test(s) || s === '-0') return false;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

/** The key's value of `type`, undefined when missing; another type throws WRONGTYPE (answered by execute()). */
export function lookupOf<T extends Held>(ctx: Context, k: string, type: Collection['type']): T | undefined {
  const entry = ctx.store.lookup(k);
  if (entry === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the reply itself: execute() answers it
  if (entry.value instanceof Buffer || (entry.value as Collection).type !== type) throw WRONGTYPE;
  return entry.value as T;
}

/**
 * The key's value of `type` for a command adding to it, created empty when missing: undefined
 * when over maxmemory with nothing to evict (the command answers -OOM, as Redis before running).
 */
export function writable<T extends Held>(ctx: Context, arg: Buffer, type: Collection['type'], create: () => T): T | undefined {
  if (noRoom(ctx)) return undefined;
  const k = key(arg);
  let value = lookupOf<T>(ctx, k, type);
  if (value === undefined) {
    value = create();
    ctx.store.set(k, value);
  }
  return value;
}

/** A collection grew or shrank by `delta` bytes: its estimate and the store's kept together. */
export function resize(ctx: Context, value: Held, delta: number): void {
  value.bytes += delta;
  ctx.store.resized(delta);
}

/** A collection left empty is deleted, as Redis does ('del' told after the command's own event). */
export function deleteIfEmpty(ctx: Context, k: string, size: number): void {
  if (size !== 0) return;
  ctx.store.delete(k);
  ctx.store.notify('g', 'del', k);
}

/** Redis's start/stop index pair over `length` elements (negative from the end), or undefined when empty. */
export function range(start: bigint, stop: bigint, length: number): [number, number] | undefined {
  let s = Number(start);
  let e = Number(stop);
  if (s < 0) s += length;
  if (e < 0) e += length;
  if (s < 0) s = 0;
  if (s > e || s >= length) return undefined;
  if (e >= length) e = length - 1;
  return [s, e];
}
