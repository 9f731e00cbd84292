/** String commands (Redis 7.0): values are Buffers, binary safe. */
import { ErrorReply, error, type Reply } from '@socketserver/plugin-resp';
import { INT64_MAX, INT64_MIN, NOT_INTEGER, OK, OOM, SYNTAX, key, parseInt64, upper, wrongArity, type CommandTable, type Context } from './command.js';

const NO_SET_OPTIONS = Object.freeze({ expireAt: undefined, cond: undefined });

/** SET's options after key and value: the expiry time (absolute ms, or 'keep') and the NX/XX condition, or an error. */
export function parseSetOptions(args: Buffer[], now: number): { expireAt?: number | 'keep'; cond?: 'NX' | 'XX' } | ErrorReply {
  let expireAt: number | 'keep' | undefined;
  let cond: 'NX' | 'XX' | undefined;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if ((opt === 'NX' || opt === 'XX') && cond === undefined) {
      cond = opt;
    } else if (opt === 'KEEPTTL' && expireAt === undefined) {
      expireAt = 'keep';
    } else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && expireAt === undefined && i + 1 < args.length) {
      const n = parseInt64(args[++i]!);
      if (n === undefined) return NOT_INTEGER;
      if (n <= 0n) return error("ERR invalid expire time in 'set' command");
      const ms = Number(n) * (opt === 'EX' || opt === 'EXAT' ? 1000 : 1);
      expireAt = opt === 'EX' || opt === 'PX' ? now + ms : ms;
    } else {
      return SYNTAX;
    }
  }
  return { expireAt, cond };
}

function incrBy(ctx: Context, k: Buffer, by: bigint): Reply {
  if (ctx.store.full(1) && !ctx.store.makeRoom(1)) return OOM;
  const old = ctx.store.get(key(k));
  const cur = old === undefined ? 0n : parseInt64(old);
  if (cur === undefined) return NOT_INTEGER;
  const next = cur + by;
  if (next < INT64_MIN || next > INT64_MAX) return error('ERR increment or decrement would overflow');
  ctx.store.set(key(k), Buffer.from(String(next)), 'keep');
  return next;
}

export const STRINGS: CommandTable = {
  get: { arity: 2, run: (a, ctx) => ctx.store.get(key(a[1]!)) ?? null },
  set: {
    arity: -3,
    run: (a, ctx) => {
      // Over maxmemory, a command that may add memory is refused before it runs (as Redis: OOM before syntax).
      if (ctx.store.full(1) && !ctx.store.makeRoom(1)) return OOM;
      // Without options (the common case) nothing is parsed, and the clock is not read.
      const opts = a.length === 3 ? NO_SET_OPTIONS : parseSetOptions(a, Date.now());
      if (opts instanceof ErrorReply) return opts;
      const k = key(a[1]!);
      if (opts.cond !== undefined && ctx.store.has(k) !== (opts.cond === 'XX')) return null;
      ctx.store.set(k, Buffer.from(a[2]!), opts.expireAt); // a copy: the argument is a view of the read
      return OK;
    },
  },
  incr: { arity: 2, run: (a, ctx) => incrBy(ctx, a[1]!, 1n) },
  decr: { arity: 2, run: (a, ctx) => incrBy(ctx, a[1]!, -1n) },
  incrby: { arity: 3, run: (a, ctx) => { const n = parseInt64(a[2]!); return n === undefined ? NOT_INTEGER : incrBy(ctx, a[1]!, n); } },
  decrby: { arity: 3, run: (a, ctx) => { const n = parseInt64(a[2]!); return n === undefined ? NOT_INTEGER : incrBy(ctx, a[1]!, -n); } },
  mget: { arity: -2, run: (a, ctx) => a.slice(1).map((k) => ctx.store.get(key(k)) ?? null) },
  mset: {
    arity: -3,
    run: (a, ctx) => {
      if (a.length % 2 === 0) return wrongArity('mset');
      const adding = (a.length - 1) / 2;
      if (ctx.store.full(adding) && !ctx.store.makeRoom(adding)) return OOM;
      for (let i = 1; i < a.length; i += 2) ctx.store.set(key(a[i]!), Buffer.from(a[i + 1]!));
      return OK;
    },
  },
};
