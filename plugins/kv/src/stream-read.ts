/**
 * XREAD and XREADGROUP (Redis 7.0). kv has no blocking commands: with BLOCK, what Redis would
 * answer at once is answered, and when it would block the null reply is answered at once, as
 * Redis does when it may not block (in MULTI).
 */
import { error, NULL_ARRAY, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, SYNTAX, key, parseInt64, upper, type CommandTable, type Context } from './command.js';
import { lookupOf } from './collection.js';
import { activeConsumer, consumerPel, advance, deliver, entriesUpTo, tombstoneAfter, ENTRIES_READ_UNKNOWN, type Consumer, type Group, type Pending } from './stream-groups.js';
import { INVALID_ID, MAX_ID, MIN_ID, cmp, idString, incr, parseId, type Id } from './stream-id.js';
import { entryReply, type Stream } from './streams.js';

/** `>` in XREADGROUP: entries never delivered to the group. */
const NEW = MAX_ID;

function read(a: Buffer[], ctx: Context, withGroup: boolean): Reply {
  let count = 0;
  let streamsAt = 0;
  let groupName: Buffer | undefined;
  let consumerName: Buffer | undefined;
  let noAck = false;
  for (let i = 1; i < a.length; i++) {
    const opt = upper(a[i]);
    const more = a.length - i - 1;
    if (opt === 'BLOCK' && more > 0) {
      // Parsed as Redis does; kv does not block (see above).
      const ms = parseInt64(a[++i]!);
      if (ms === undefined) return error('ERR timeout is not an integer or out of range');
      if (ms < 0n) return error('ERR timeout is negative');
    } else if (opt === 'COUNT' && more > 0) {
      const n = parseInt64(a[++i]!);
      if (n === undefined) return NOT_INTEGER;
      count = n < 0n ? 0 : Number(n);
    } else if (opt === 'STREAMS' && more > 0) {
      streamsAt = i + 1;
      if ((a.length - streamsAt) % 2 !== 0) {
        return error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
      }
      break;
    } else if (opt === 'GROUP' && more >= 2) {
      if (!withGroup) return error('ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.');
      groupName = a[i + 1];
      consumerName = a[i + 2];
      i += 2;
    } else if (opt === 'NOACK') {
      if (!withGroup) return error('ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.');
      noAck = true;
    } else {
      return SYNTAX;
    }
  }
  if (streamsAt === 0) return SYNTAX;
  if (withGroup && groupName === undefined) return error('ERR Missing GROUP option for XREADGROUP');
  const n = (a.length - streamsAt) / 2;
  const streams: (Stream | undefined)[] = [];
  const groups: Group[] = [];
  const ids: Id[] = [];
  for (let i = 0; i < n; i++) {
    const k = a[streamsAt + i]!;
    const arg = a[streamsAt + n + i]!;
    const stream = lookupOf<Stream>(ctx, key(k), 'stream');
    streams.push(stream);
    if (groupName !== undefined) {
      const g = stream?.groups.get(key(groupName));
      if (g === undefined) {
        return error(`NOGROUP No such key '${key(k)}' or consumer group '${key(groupName)}' in XREADGROUP with GROUP option`);
      }
      groups.push(g);
    }
    const s = key(arg);
    if (s === '$') {
      if (withGroup) {
        return error('ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.');
      }
      ids.push(stream?.last ?? MIN_ID);
    } else if (s === '>') {
      if (!withGroup) return error('ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.');
      ids.push(NEW);
    } else {
      const id = parseId(arg, 0n, true);
      if (id === undefined) return INVALID_ID;
      ids.push(id);
    }
  }
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) {
    const stream = streams[i];
    if (stream === undefined) continue;
    const g = groups[i];
    let after = ids[i]!;
    const top = stream.entries[stream.entries.length - 1];
    const history = g !== undefined && cmp(after, NEW) !== 0;
    if (g !== undefined && !history) {
      if (top === undefined || cmp(top, g.lastId) <= 0) continue;
      after = g.lastId;
    } else if (g === undefined && (top === undefined || cmp(top, after) <= 0)) {
      continue;
    }
    const k = key(a[streamsAt + i]!);
    let entries: Reply[];
    if (g === undefined) {
      entries = range(stream, incr(after) ?? MIN_ID, count);
    } else {
      const consumer = activeConsumer(ctx, stream, g, key(consumerName!), k);
      const from = incr(after) ?? MIN_ID;
      entries = history ? pendingHistory(stream, consumerPel(g, consumer).filter((p) => cmp(p.id, from) >= 0), count)
        : deliverNew(ctx, stream, g, consumer, from, count, noAck);
    }
    out.push([a[streamsAt + i]!, entries]);
  }
  return out.length === 0 ? NULL_ARRAY : out;
}

/** Entries from `from` on, at most `count` (0: all). */
function range(stream: Stream, from: Id, count: number): Reply[] {
  const out: Reply[] = [];
  for (let i = stream.seek(from); i < stream.entries.length && (count === 0 || out.length < count); i++) out.push(entryReply(stream.entries[i]!));
  return out;
}

/** XREADGROUP `>`: new entries, delivered to the consumer (pending unless NOACK); the group's read counter follows. */
function deliverNew(ctx: Context, stream: Stream, g: Group, consumer: Consumer, from: Id, count: number, noAck: boolean): Reply[] {
  const out: Reply[] = [];
  for (let i = stream.seek(from); i < stream.entries.length && (count === 0 || out.length < count); i++) {
    const e = stream.entries[i]!;
    const id: Id = { ms: e.ms, seq: e.seq };
    if (cmp(id, g.lastId) > 0) {
      if (g.entriesRead !== ENTRIES_READ_UNKNOWN && !tombstoneAfter(stream, id)) g.entriesRead = BigInt.asIntN(64, g.entriesRead + 1n); // wraps as Redis's long long
      else if (stream.entriesAdded !== 0) g.entriesRead = entriesUpTo(stream, id);
      advance(ctx, g, id);
    }
    if (!noAck) deliver(ctx, stream, g, consumer, id);
    out.push(entryReply(e));
  }
  return out;
}

/** XREADGROUP with an ID: the consumer's own pending entries, delivered again (an entry since deleted shows as [id, nil]). */
function pendingHistory(stream: Stream, pending: Pending[], count: number): Reply[] {
  const out: Reply[] = [];
  for (const p of pending) {
    if (count !== 0 && out.length >= count) break;
    const e = stream.find(p.id);
    if (e === undefined) {
      out.push([idString(p.id), NULL_ARRAY]);
      continue;
    }
    p.deliveryTime = Date.now();
    p.deliveryCount++;
    out.push(entryReply(e));
  }
  return out;
}

export const STREAM_READS: CommandTable = {
  xread: { arity: -4, run: (a, ctx) => read(a, ctx, false) },
  xreadgroup: { arity: -7, run: (a, ctx) => read(a, ctx, true) },
};
