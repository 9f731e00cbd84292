/** Set commands (Redis 7.0), the few that make and read sets: members as latin1 strings. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { INT64_MAX, NOT_INTEGER, OOM, SYNTAX, key, parseInt64, type CommandTable, type Context } from './command.js';
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

/**
 * Most members SRANDMEMBER with a negative count (members may repeat) answers: Redis builds any
 * count asked, so one request could make a reply of gigabytes; kv refuses counts beyond it with
 * Redis's range error. A positive count is bounded by the set's size anyway.
 */
export const MAX_RANDOM_REPEATS = 1_000_000;
const OUT_OF_RANGE = error(`ERR value is out of range, value must between -${MAX_RANDOM_REPEATS} and ${INT64_MAX}`);

/** SRANDMEMBER key [count]: one member (or nil); count > 0 distinct members, < 0 members that may repeat. */
function srandmember(a: Buffer[], ctx: Context): Reply {
  if (a.length > 3) return SYNTAX;
  let count: bigint | undefined;
  if (a.length === 3) {
    count = parseInt64(a[2]!);
    if (count === undefined) return NOT_INTEGER;
    if (count < -BigInt(MAX_RANDOM_REPEATS)) return OUT_OF_RANGE;
  }
  const set = lookupOf<RSet>(ctx, key(a[1]!), 'set');
  if (count === undefined) {
    if (set === undefined) return null;
    // A Set has no random access: walk to a random place rather than copy every member.
    const members = set.members.values();
    for (let skip = Math.floor(Math.random() * set.members.size); skip > 0; skip--) members.next();
    return Buffer.from(members.next().value!, 'latin1');
  }
  if (set === undefined || count === 0n) return [];
  const members = [...set.members];
  if (count < 0n) return Array.from({ length: Number(-count) }, () => Buffer.from(pick(members), 'latin1'));
  if (count >= BigInt(members.length)) return set.list();
  // Distinct: the first `count` places of a partial Fisher-Yates shuffle.
  const n = Number(count);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (members.length - i));
    [members[i], members[j]] = [members[j]!, members[i]!];
  }
  return members.slice(0, n).map((m) => Buffer.from(m, 'latin1'));
}

const pick = (members: readonly string[]): string => members[Math.floor(Math.random() * members.length)]!;

export const SETS: CommandTable = {
  srandmember: { arity: -2, run: srandmember },
  sadd: { arity: -3, run: sadd },
  srem: { arity: -3, run: srem },
  smembers: { arity: 2, run: (a, ctx) => lookupOf<RSet>(ctx, key(a[1]!), 'set')?.list() ?? [] },
  scard: { arity: 2, run: (a, ctx) => lookupOf<RSet>(ctx, key(a[1]!), 'set')?.members.size ?? 0 },
  sismember: { arity: 3, run: (a, ctx) => (lookupOf<RSet>(ctx, key(a[1]!), 'set')?.members.has(key(a[2]!)) === true ? 1 : 0) },
};
