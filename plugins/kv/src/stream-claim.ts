/** XCLAIM and XAUTOCLAIM (Redis 7.0): pending entries of a consumer group given to another consumer. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { SYNTAX, key, parseInt64, upper, type CommandTable, type Context } from './command.js';
import { lookupOf, resize } from './collection.js';
import { PENDING_BYTES, activeConsumer, drop, inIdOrder, advance, moveTo, noGroup, type Consumer } from './stream-groups.js';
import { INVALID_ID, MIN_ID, cmp, idString, isId, parseBound, parseId, type Id } from './stream-id.js';
import { entryReply, type Stream } from './streams.js';

/** A count or time option of XCLAIM/XAUTOCLAIM: the integer, or Redis's error naming it. */
function intArg(b: Buffer, message: string): bigint | Reply {
  return parseInt64(b) ?? error(`ERR ${message}`);
}

function xclaim(a: Buffer[], ctx: Context): Reply {
  const k = key(a[1]!);
  const stream = lookupOf<Stream>(ctx, k, 'stream');
  const g = stream?.groups.get(key(a[2]!));
  if (g === undefined) return noGroup(a[1]!, a[2]!);
  const idle = intArg(a[4]!, 'Invalid min-idle-time argument for XCLAIM');
  if (typeof idle !== 'bigint') return idle;
  const minIdle = idle < 0n ? 0 : Number(idle);
  const ids: Id[] = [];
  let j = 5;
  for (; j < a.length; j++) {
    const id = parseId(a[j]!, 0n, true);
    if (id === undefined) break;
    ids.push(id);
  }
  const now = Date.now();
  let deliveryTime: number | undefined;
  let retryCount: number | undefined;
  let force = false;
  let justId = false;
  let lastId = MIN_ID;
  for (; j < a.length; j++) {
    const opt = upper(a[j]);
    const more = j + 1 < a.length;
    if (opt === 'FORCE') force = true;
    else if (opt === 'JUSTID') justId = true;
    else if ((opt === 'IDLE' || opt === 'TIME' || opt === 'RETRYCOUNT') && more) {
      const n = intArg(a[++j]!, `Invalid ${opt} option argument for XCLAIM`);
      if (typeof n !== 'bigint') return n;
      if (opt === 'IDLE') deliveryTime = now - Number(n);
      else if (opt === 'TIME') deliveryTime = Number(n);
      else retryCount = Number(n);
    } else if (opt === 'LASTID' && more) {
      const id = parseId(a[++j]!, 0n, true);
      if (id === undefined) return INVALID_ID;
      lastId = id;
    } else {
      return error(`ERR Unrecognized XCLAIM option '${key(a[j]!)}'`);
    }
  }
  if (cmp(lastId, g.lastId) > 0) advance(ctx, g, lastId);
  // A time in the future or before the epoch is taken as now, as Redis does.
  if (deliveryTime === undefined || deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  let consumer: Consumer | undefined;
  const out: Reply[] = [];
  for (const id of ids) {
    let p = g.pel.get(idString(id));
    const entry = stream!.find(id);
    if (entry === undefined) {
      // Gone from the stream: dropped from the PEL.
      if (p !== undefined) drop(ctx, stream!, g, p);
      continue;
    }
    const made = p === undefined;
    if (p === undefined) {
      if (!force) continue;
      p = { id, deliveryTime: now, deliveryCount: 1, consumer: '' };
      g.pel.set(idString(id), p);
      resize(ctx, stream!, PENDING_BYTES);
    }
    if (!made && minIdle !== 0 && now - p.deliveryTime < minIdle) continue;
    consumer ??= activeConsumer(ctx, stream!, g, key(a[3]!), k);
    moveTo(ctx, g, p, consumer);
    p.deliveryTime = deliveryTime;
    if (retryCount !== undefined && retryCount >= 0) p.deliveryCount = retryCount;
    else if (!justId) p.deliveryCount++;
    out.push(justId ? idString(id) : entryReply(entry));
  }
  return out;
}

function xautoclaim(a: Buffer[], ctx: Context): Reply {
  const idle = intArg(a[4]!, 'Invalid min-idle-time argument for XAUTOCLAIM');
  if (typeof idle !== 'bigint') return idle;
  const minIdle = idle < 0n ? 0 : Number(idle);
  const start = parseBound(a[5]!, false);
  if (!isId(start)) return start;
  let count = 100;
  let justId = false;
  for (let j = 6; j < a.length; j++) {
    const opt = upper(a[j]);
    if (opt === 'COUNT' && j + 1 < a.length) {
      const n = parseInt64(a[++j]!);
      // Redis's bound: LONG_MAX over the 16 bytes an ID takes.
      if (n === undefined || n < 1n || n > 576460752303423487n) return error('ERR COUNT must be > 0');
      count = Number(n);
    } else if (opt === 'JUSTID') {
      justId = true;
    } else {
      return SYNTAX;
    }
  }
  const k = key(a[1]!);
  const stream = lookupOf<Stream>(ctx, k, 'stream');
  const g = stream?.groups.get(key(a[2]!));
  if (g === undefined) return noGroup(a[1]!, a[2]!);
  const list = inIdOrder(g.pel.values()).filter((p) => cmp(p.id, start) >= 0);
  const now = Date.now();
  const claimed: Reply[] = [];
  const deleted: Reply[] = [];
  let consumer: Consumer | undefined;
  let attempts = count * 10;
  let next = 0;
  while (attempts-- > 0 && count > 0 && next < list.length) {
    const p = list[next++]!;
    const entry = stream!.find(p.id);
    if (entry === undefined) {
      drop(ctx, stream!, g, p);
      deleted.push(idString(p.id));
      count--;
      continue;
    }
    if (minIdle !== 0 && now - p.deliveryTime < minIdle) continue;
    consumer ??= activeConsumer(ctx, stream!, g, key(a[3]!), k);
    moveTo(ctx, g, p, consumer);
    p.deliveryTime = now;
    if (!justId) p.deliveryCount++;
    claimed.push(justId ? idString(p.id) : entryReply(entry));
    count--;
  }
  // The cursor: the next pending entry not looked at, 0-0 when none is left.
  const cursor = next < list.length ? list[next]!.id : MIN_ID;
  return [idString(cursor), claimed, deleted];
}

export const STREAM_CLAIMS: CommandTable = {
  xclaim: { arity: -6, run: xclaim },
  xautoclaim: { arity: -6, run: xautoclaim },
};
