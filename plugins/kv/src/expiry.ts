/** Expiry commands (Redis 7.0): times are absolute ms in the store's expires map. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, key, parseInt64, type CommandTable, type Context } from './command.js';

function ttl(args: Buffer[], ctx: Context, unit: number): Reply {
  const k = key(args[1]!);
  if (ctx.store.get(k) === undefined) return -2;
  const at = ctx.store.expires.get(k);
  if (at === undefined) return -1;
  const left = Math.max(0, at - Date.now());
  return unit === 1 ? left : Math.floor((left + 500) / 1000);
}

export const EXPIRY: CommandTable = {
  expire: {
    arity: -3,
    run: (a, ctx) => {
      const n = parseInt64(a[2]!);
      if (n === undefined) return NOT_INTEGER;
      if (a.length > 3) return error(`ERR Unsupported option ${a[3]!.toString('latin1')}`);
      const k = key(a[1]!);
      const value = ctx.store.get(k);
      if (value === undefined) return 0;
      if (n <= 0n) ctx.store.delete(k);
      else ctx.store.set(k, value, Date.now() + Number(n) * 1000);
      return 1;
    },
  },
  ttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, 1000) },
  pttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, 1) },
};
