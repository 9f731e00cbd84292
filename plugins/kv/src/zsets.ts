/** Sorted set commands (Redis 7.0), the few that make and read them: member (latin1) → score. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OOM, SYNTAX, key, parseInt64, upper, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, ENCODING_LIMITS, deleteIfEmpty, lookupOf, range, resize, writable, type Held } from './collection.js';

export class ZSet implements Held {
  readonly type = 'zset';
  bytes = 0;
  /** Whether it is still small enough for Redis's listpack (it never goes back). */
  listpack = ENCODING_LIMITS.zsetMaxListpackEntries > 0;
  constructor(readonly scores = new Map<string, number>()) {}
  get encoding(): string {
    return this.listpack ? 'listpack' : 'skiplist';
  }
  clone(): ZSet {
    const copy = new ZSet(new Map(this.scores));
    copy.bytes = this.bytes;
    copy.listpack = this.listpack;
    return copy;
  }
  /** Members by score, then by member's bytes (Redis's order). */
  sorted(): [string, number][] {
    return [...this.scores].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  }
}

const newZSet = (): ZSet => new ZSet();

/** A score as Redis 7.0 writes it: printf's %.17g, inf and -inf. */
export function formatScore(d: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isInteger(d) && Math.abs(d) < 1e17) return String(d);
  const [mant, exp] = d.toExponential(16).split('e') as [string, string];
  const x = Number(exp);
  const strip = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (x < -4 || x >= 17) return `${strip(mant)}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  return strip(d.toFixed(16 - x));
}

/** A score as Redis's strtod takes it (inf, -inf, +inf too), or undefined. */
function parseScore(b: Buffer): number | undefined {
  const s = b.toString('latin1');
  const lower = s.toLowerCase();
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return undefined;
  const d = Number(s);
  // Out of a double's range, over (inf) or under (0 from digits not all zero): refused, as strtod's ERANGE.
  if (!Number.isFinite(d) || (d === 0 && /[1-9]/.test(s.replace(/[eE].*$/, '')))) return undefined;
  return d;
}

function zadd(a: Buffer[], ctx: Context): Reply {
  // Only score/member pairs: the options (NX, XX, GT, LT, CH, INCR) are not supported.
  if (a.length % 2 !== 0) return SYNTAX;
  const scores: number[] = [];
  for (let i = 2; i < a.length; i += 2) {
    const score = parseScore(a[i]!);
    if (score === undefined) return error('ERR value is not a valid float');
    scores.push(score);
  }
  const zset = writable(ctx, a[1]!, 'zset', newZSet);
  if (zset === undefined) return OOM;
  let added = 0;
  let updated = 0;
  let bytes = 0;
  for (let i = 3; i < a.length; i += 2) {
    const member = key(a[i]!);
    const score = scores[(i - 3) / 2]!;
    const old = zset.scores.get(member);
    if (old === undefined) {
      added++;
      bytes += member.length + ELEMENT_OVERHEAD;
    } else if (old !== score) {
      updated++;
    }
    zset.scores.set(member, score);
    if (member.length > ENCODING_LIMITS.zsetMaxListpackValue) zset.listpack = false;
  }
  if (zset.scores.size > ENCODING_LIMITS.zsetMaxListpackEntries) zset.listpack = false;
  resize(ctx, zset, bytes);
  if (added + updated > 0) ctx.store.notify('z', 'zadd', key(a[1]!));
  return added;
}

function zrem(a: Buffer[], ctx: Context): Reply {
  const k = key(a[1]!);
  const zset = lookupOf<ZSet>(ctx, k, 'zset');
  if (zset === undefined) return 0;
  let removed = 0;
  for (let i = 2; i < a.length; i++) {
    if (!zset.scores.delete(key(a[i]!))) continue;
    removed++;
    resize(ctx, zset, -(a[i]!.length + ELEMENT_OVERHEAD));
  }
  if (removed > 0) {
    ctx.store.notify('z', 'zrem', k);
    deleteIfEmpty(ctx, k, zset.scores.size);
  }
  return removed;
}

export const ZSETS: CommandTable = {
  zadd: { arity: -4, run: zadd },
  zrem: { arity: -3, run: zrem },
  zcard: { arity: 2, run: (a, ctx) => lookupOf<ZSet>(ctx, key(a[1]!), 'zset')?.scores.size ?? 0 },
  zscore: {
    arity: 3,
    run: (a, ctx) => {
      const score = lookupOf<ZSet>(ctx, key(a[1]!), 'zset')?.scores.get(key(a[2]!));
      return score === undefined ? null : formatScore(score);
    },
  },
  zrange: {
    arity: -4,
    run: (a, ctx) => {
      // By index only (BYSCORE, BYLEX, REV and LIMIT are not supported).
      const withScores = a.length === 5 && upper(a[4]) === 'WITHSCORES';
      if (a.length > 5 || (a.length === 5 && !withScores)) return SYNTAX;
      const start = parseInt64(a[2]!);
      const stop = parseInt64(a[3]!);
      if (start === undefined || stop === undefined) return NOT_INTEGER;
      const zset = lookupOf<ZSet>(ctx, key(a[1]!), 'zset');
      if (zset === undefined) return [];
      const r = range(start, stop, zset.scores.size);
      if (r === undefined) return [];
      const out: Reply[] = [];
      for (const [m, s] of zset.sorted().slice(r[0], r[1] + 1)) {
        out.push(Buffer.from(m, 'latin1'));
        if (withScores) out.push(formatScore(s));
      }
      return out;
    },
  },
};
