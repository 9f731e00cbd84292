/** Serialization commands (Redis 7.0): DUMP and RESTORE, values in Redis's RDB format (rdb.ts). */
import { error, type Reply } from '@socketserver/plugin-resp';
import { AS, NOT_INTEGER, OK, OOM, SYNTAX, arg, key, noRoom, parseInt64, replicating, upper, type CommandTable, type Context } from './command.js';
import { dumpPayload, restoreValue, verifyPayload } from './rdb.js';

const BUSYKEY = error('BUSYKEY Target key name already exists.');
const WRONG_PAYLOAD = error('ERR DUMP payload version or checksum are wrong');
const BAD_DATA = error('ERR Bad data format');

/** DUMP key: the value as Redis serializes it (its TTL not included), or nil. */
function dump(a: Buffer[], ctx: Context): Reply {
  const entry = ctx.store.lookup(key(a[1]!));
  return entry === undefined ? null : dumpPayload(entry.value);
}

/**
 * RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in Redis's order
 * (options, existing key, TTL, payload). IDLETIME and FREQ are checked and then ignored: the
 * store keeps an access order, not times or frequencies. A TTL already past deletes the key
 * (with REPLACE) and restores nothing, as Redis.
 */
function restore(a: Buffer[], ctx: Context): Reply {
  if (noRoom(ctx)) return OOM;
  let replace = false;
  let absttl = false;
  let idle = false;
  let freq = false;
  for (let j = 4; j < a.length; j++) {
    const opt = upper(a[j]);
    const more = j + 1 < a.length;
    if (opt === 'REPLACE') replace = true;
    else if (opt === 'ABSTTL') absttl = true;
    else if (opt === 'IDLETIME' && more && !freq) {
      const n = parseInt64(a[++j]!);
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n) return error('ERR Invalid IDLETIME value, must be >= 0');
      idle = true;
    } else if (opt === 'FREQ' && more && !idle) {
      const n = parseInt64(a[++j]!);
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n || n > 255n) return error('ERR Invalid FREQ value, must be >= 0 and <= 255');
      freq = true;
    } else return SYNTAX;
  }
  const k = key(a[1]!);
  if (!replace && ctx.store.lookup(k) !== undefined) return BUSYKEY;
  const ttl = parseInt64(a[2]!);
  if (ttl === undefined) return NOT_INTEGER;
  if (ttl < 0n) return error('ERR Invalid TTL value, must be >= 0');
  const payload = a[3]!;
  if (!verifyPayload(payload)) return WRONG_PAYLOAD;
  const value = restoreValue(payload);
  if (value === undefined) return BAD_DATA;
  const deleted = replace && ctx.store.delete(k);
  const now = Date.now();
  const at = ttl === 0n ? undefined : Number(absttl ? ttl : ttl + BigInt(now));
  if (at !== undefined && at <= now) {
    if (deleted) {
      ctx.store.notify('g', 'del', k);
      if (replicating(ctx)) ctx.store.propagateAs = [[AS.DEL, a[1]!]];
    }
    return OK;
  }
  ctx.store.set(k, value, at);
  ctx.store.notify('g', 'restore', k);
  // Replicas get the TTL as an absolute time, as Redis sends it.
  if (at !== undefined && !absttl && replicating(ctx)) ctx.store.propagateAs = [[a[0]!, a[1]!, arg(at), ...a.slice(3), AS.ABSTTL]];
  return OK;
}

export const DUMP: CommandTable = {
  dump: { arity: 2, run: dump },
  restore: { arity: -4, run: restore },
};
