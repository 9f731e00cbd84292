/**
 * Streams (Redis 7.0): the Stream value and the commands that make and read its entries: XADD,
 * XLEN, XRANGE, XDEL. Consumer groups are in stream-groups.ts (XCLAIM, XAUTOCLAIM in
 * stream-claim.ts), XREAD/XREADGROUP in stream-read.ts, XINFO in stream-info.ts.
 */
import { error, NULL_ARRAY, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OOM, SYNTAX, key, parseInt64, replicating, upper, wrongArity, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, lookupOf, resize, writable, type Held } from './collection.js';
import type { Group } from './stream-groups.js';
import { INVALID_ID, MIN_ID, cmp, idString, isId, parseBound, parseId, type Id } from './stream-id.js';

export interface StreamEntry extends Id {
  /** field, value, field, value… */
  readonly fields: Buffer[];
}

/**
 * A stream: its entries in ID order, and the metadata Redis 7.0 keeps (XINFO STREAM shows it).
 * Plain data, so that it can be written out and read back as it is.
 */
export class Stream implements Held {
  readonly type = 'stream';
  bytes = 0;
  /** The greatest ID ever added (last-generated-id): new IDs are greater. */
  last: Id = MIN_ID;
  /** Entries ever added (entries-added), XDEL does not lower it. */
  entriesAdded = 0;
  /** The greatest ID deleted by XDEL (max-deleted-entry-id), 0-0 when none. */
  maxDeleted: Id = MIN_ID;
  /** The first entry's ID (recorded-first-entry-id), 0-0 when empty. */
  first: Id = MIN_ID;
  /** Consumer groups by name (latin1). */
  readonly groups = new Map<string, Group>();
  constructor(readonly entries: StreamEntry[] = []) {}
  get encoding(): string {
    return 'stream';
  }
  clone(): Stream {
    const copy = new Stream(this.entries.map((e) => ({ ms: e.ms, seq: e.seq, fields: e.fields.map((b) => Buffer.from(b)) })));
    copy.bytes = this.bytes;
    copy.last = this.last;
    copy.entriesAdded = this.entriesAdded;
    copy.maxDeleted = this.maxDeleted;
    copy.first = this.first;
    for (const [name, g] of this.groups) {
      const pel = new Map([...g.pel].map(([k, p]) => [k, { ...p }]));
      const consumers = new Map([...g.consumers].map(([n, c]) => [n, { name: n, seenTime: c.seenTime, pel: new Set(c.pel) }]));
      copy.groups.set(name, { lastId: g.lastId, entriesRead: g.entriesRead, pel, consumers });
    }
    return copy;
  }
  /** The index of the first entry whose ID is >= `id` (entries.length when none). */
  seek(id: Id): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(this.entries[mid]!, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** The entry of this ID, if it is in the stream. */
  find(id: Id): StreamEntry | undefined {
    const e = this.entries[this.seek(id)];
    return e !== undefined && cmp(e, id) === 0 ? e : undefined;
  }
}

const newStream = (): Stream => new Stream();

/** An entry as replies show it: [id, [field, value…]]. */
export const entryReply = (e: StreamEntry): Reply => [idString(e), e.fields];

function xadd(a: Buffer[], ctx: Context): Reply {
  // KEY ID|* field value...: the options (NOMKSTREAM, MAXLEN, MINID) are not supported.
  if (a.length < 5 || (a.length - 3) % 2 !== 0) return wrongArity('xadd');
  const auto = a[2]!.length === 1 && a[2]![0] === 0x2a; // '*'
  const given = auto ? undefined : parseId(a[2]!, 0n, true);
  if (!auto && given === undefined) return INVALID_ID;
  if (given !== undefined && given.ms === 0n && given.seq === 0n) return error('ERR The ID specified in XADD must be greater than 0-0');
  const k = key(a[1]!);
  const existing = lookupOf<Stream>(ctx, k, 'stream');
  const last = existing?.last ?? MIN_ID;
  let id: Id;
  if (given === undefined) {
    const now = BigInt(Date.now());
    id = now > last.ms ? { ms: now, seq: 0n } : { ms: last.ms, seq: last.seq + 1n };
  } else {
    id = given;
    if (existing !== undefined && cmp(last, id) >= 0) {
      return error('ERR The ID specified in XADD is equal or smaller than the target stream top item');
    }
  }
  const stream = writable(ctx, a[1]!, 'stream', newStream);
  if (stream === undefined) return OOM;
  const fields = a.slice(3).map((b) => Buffer.from(b));
  stream.entries.push({ ms: id.ms, seq: id.seq, fields });
  stream.last = id;
  stream.entriesAdded++;
  if (stream.entries.length === 1) stream.first = id;
  resize(ctx, stream, fields.reduce((n, b) => n + b.length, ELEMENT_OVERHEAD));
  ctx.store.notify('t', 'xadd', k);
  const text = idString(id);
  // Replicas get the ID made here (from '*' or a missing sequence), not one of their own.
  if (replicating(ctx) && a[2]!.toString('latin1') !== text) ctx.store.propagateAs = [[a[0]!, a[1]!, Buffer.from(text, 'latin1'), ...a.slice(3)]];
  return text;
}

function xrange(a: Buffer[], ctx: Context): Reply {
  const start = parseBound(a[2]!, false);
  if (!isId(start)) return start;
  const end = parseBound(a[3]!, true);
  if (!isId(end)) return end;
  let count = Infinity;
  for (let i = 4; i < a.length; i += 2) {
    if (upper(a[i]) !== 'COUNT' || i + 1 >= a.length) return SYNTAX;
    const n = parseInt64(a[i + 1]!);
    if (n === undefined) return NOT_INTEGER;
    count = n < 0n ? 0 : Number(n);
  }
  const stream = lookupOf<Stream>(ctx, key(a[1]!), 'stream');
  if (stream === undefined) return [];
  if (count === 0) return NULL_ARRAY;
  const out: Reply[] = [];
  for (let i = stream.seek(start); i < stream.entries.length && out.length < count; i++) {
    const e = stream.entries[i]!;
    if (cmp(e, end) > 0) break;
    out.push(entryReply(e));
  }
  return out;
}

function xdel(a: Buffer[], ctx: Context): Reply {
  const k = key(a[1]!);
  const stream = lookupOf<Stream>(ctx, k, 'stream');
  if (stream === undefined) return 0;
  const ids: Id[] = [];
  for (let i = 2; i < a.length; i++) {
    const id = parseId(a[i]!, 0n, true);
    if (id === undefined) return INVALID_ID;
    ids.push(id);
  }
  let deleted = 0;
  let freed = 0;
  for (const id of ids) {
    const at = stream.seek(id);
    const e = stream.entries[at];
    if (e === undefined || cmp(e, id) !== 0) continue;
    stream.entries.splice(at, 1);
    freed += e.fields.reduce((n, b) => n + b.length, ELEMENT_OVERHEAD);
    if (cmp(id, stream.maxDeleted) > 0) stream.maxDeleted = id;
    deleted++;
  }
  if (deleted === 0) return 0;
  const head = stream.entries[0];
  stream.first = head === undefined ? MIN_ID : { ms: head.ms, seq: head.seq };
  resize(ctx, stream, -freed);
  ctx.store.notify('t', 'xdel', k);
  return deleted;
}

export const STREAMS: CommandTable = {
  xadd: { arity: -5, run: xadd },
  xlen: { arity: 2, run: (a, ctx) => lookupOf<Stream>(ctx, key(a[1]!), 'stream')?.entries.length ?? 0 },
  xrange: { arity: -4, run: xrange },
  xdel: { arity: -3, run: xdel },
};
