/** Set commands (Redis 7.0), the few that make and read sets: members as latin1 strings. */
import { type Reply } from '@socketserver/plugin-resp';
import { OOM, key, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, ENCODING_LIMITS, deleteIfEmpty, isInt64, lookupOf, resize, writable, type Held } from './collection.js';

export class RSet implements Held {
  readonly type = 'set';
  bytes = 0;
  /** Whether every member so far is an integer and few: Redis's intset (it never goes back). */
  intset = true;
  constructor(readonly members = new Set<string>()) {}
  get encoding(): string {
    return this.intset ? 'intset' : 'hashtable';
  }
  add(member: string): boolean {
    if (this.members.has(member)) return false;
    this.members.add(member);
    if (this.intset && (!isInt64(member) || this.members.size > ENCODING_LIMITS.setMaxIntsetEntries)) this.intset = false;
    return true;
  }
  clone(): RSet {
    const copy = new RSet(new Set(this.members));
    copy.bytes = this.bytes;
    copy.intset = this.intset;
    return copy;
  }
  /** Members as Redis lists them: an intset in ascending order. */
  list(): Buffer[] {
    const all = [...this.members];
    if (this.intset) all.sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
    return all.map((m) => Buffer.from(m, 'latin1'));
  }
}

const newSet = (): RSet => new RSet();

function sadd(a: Buffer[], ctx: Context): Reply {
  const set = writable(ctx, a[1]!, 'set', newSet);
  if (set === undefined) return OOM;
  let added = 0;
  let bytes = 0;
  for (let i = 2; i < a.length; i++) {
    if (set.add(key(a[i]!))) {
      added++;
      bytes += a[i]!.length + ELEMENT_OVERHEAD;
    }
  }
  resize(ctx, set, bytes);
  if (added > 0) ctx.store.notify('s', 'sadd', key(a[1]!));
  return added;
}

function srem(a: Buffer[], ctx: Context): Reply {
  const k = key(a[1]!);
  const set = lookupOf<RSet>(ctx, k, 'set');
  if (set === undefined) return 0;
  let removed = 0;
  let bytes = 0;
  for (let i = 2; i < a.length; i++) {
    if (set.members.delete(key(a[i]!))) {
      removed++;
      bytes += a[i]!.length + ELEMENT_OVERHEAD;
    }
  }
  resize(ctx, set, -bytes);
  if (removed > 0) {
    ctx.store.notify('s', 'srem', k);
    deleteIfEmpty(ctx, k, set.members.size);
  }
  return removed;
}

export const SETS: CommandTable = {
  sadd: { arity: -3, run: sadd },
  srem: { arity: -3, run: srem },
  smembers: { arity: 2, run: (a, ctx) => lookupOf<RSet>(ctx, key(a[1]!), 'set')?.list() ?? [] },
  scard: { arity: 2, run: (a, ctx) => lookupOf<RSet>(ctx, key(a[1]!), 'set')?.members.size ?? 0 },
  sismember: { arity: 3, run: (a, ctx) => (lookupOf<RSet>(ctx, key(a[1]!), 'set')?.members.has(key(a[2]!)) === true ? 1 : 0) },
};
