/**
 * Stream consumer groups (Redis 7.0): the groups, consumers and pending entries a stream holds,
 * and the commands that manage them: XGROUP, XACK, XPENDING (XCLAIM and XAUTOCLAIM are in
 * stream-claim.ts).
 */
import { error, simple, NULL_ARRAY, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OK, OOM, SYNTAX, key, parseInt64, unknownSubcommand, upper, wrongArity, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, lookupOf, resize, writable } from './collection.js';
import { INVALID_ID, MIN_ID, cmp, idString, isId, isZero, parseBound, parseId, type Id } from './stream-id.js';
import { Stream } from './streams.js';

/** A delivered entry not yet acknowledged (Redis's NACK): in its group's PEL and its consumer's. */
export interface Pending {
  readonly id: Id;
  /** When it was last delivered (ms since the epoch). */
  deliveryTime: number;
  deliveryCount: number;
  /** The consumer owning it (a key of the group's consumers). */
  consumer: string;
}

export interface Consumer {
  readonly name: string;
  /** When it last read or claimed (ms since the epoch): XINFO's seen-time and idle. */
  seenTime: number;
  /** Its pending entries: their ID strings (`ms-seq`), keys of the group's PEL. */
  readonly pel: Set<string>;
}

export interface Group {
  /** The last ID delivered to the group (last-delivered-id). */
  lastId: Id;
  /** Entries the group has read (entries-read), or ENTRIES_READ_UNKNOWN. */
  entriesRead: bigint;
  /** The pending entries list, by ID string (`ms-seq`). */
  readonly pel: Map<string, Pending>;
  /** Consumers by name (latin1). */
  readonly consumers: Map<string, Consumer>;
}

/** Redis's SCG_INVALID_ENTRIES_READ: the group's read counter is not known. */
export const ENTRIES_READ_UNKNOWN = -1n;
/** Estimated bytes of a pending entry (its slot in both PELs). */
export const PENDING_BYTES = 2 * ELEMENT_OVERHEAD;

/** Names in Redis's order (its radix tree's: by bytes). */
export const byName = <T>(m: Map<string, T>): [string, T][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
/** Pending entries in ID order. */
export const inIdOrder = (list: Iterable<Pending>): Pending[] => [...list].sort((a, b) => cmp(a.id, b.id));
export const consumerPel = (g: Group, c: Consumer): Pending[] => inIdOrder([...c.pel].map((k) => g.pel.get(k)!));

/** A new consumer (Redis's streamCreateConsumer), told as `xgroup-createconsumer`. */
export function createConsumer(ctx: Context, stream: Stream, g: Group, name: string, k: string): Consumer {
  const c: Consumer = { name, seenTime: Date.now(), pel: new Set() };
  g.consumers.set(name, c);
  resize(ctx, stream, ELEMENT_OVERHEAD + name.length);
  ctx.store.notify('t', 'xgroup-createconsumer', k);
  return c;
}

/** The consumer of that name, its seen-time refreshed (it reads or claims); made when missing. */
export function activeConsumer(ctx: Context, stream: Stream, g: Group, name: string, k: string): Consumer {
  const c = g.consumers.get(name);
  if (c === undefined) return createConsumer(ctx, stream, g, name, k);
  c.seenTime = Date.now();
  return c;
}

/**
 * Group state changes no keyspace event tells (a delivery, a claim, an acknowledgement) still
 * change the key: they count as changes, so that replicas get the command.
 */
const changed = (ctx: Context): void => {
  ctx.store.dirty++;
};

/** Give a pending entry to `c` (from its owner, if another): a claim. */
export function moveTo(ctx: Context, g: Group, p: Pending, c: Consumer): void {
  changed(ctx);
  if (p.consumer === c.name) return;
  g.consumers.get(p.consumer)?.pel.delete(idString(p.id));
  p.consumer = c.name;
  c.pel.add(idString(p.id));
}

/** An entry delivered to `c` by XREADGROUP: pending, owned by `c`, delivered once (again if it was another's). */
export function deliver(ctx: Context, stream: Stream, g: Group, c: Consumer, id: Id): void {
  changed(ctx);
  const k = idString(id);
  const p = g.pel.get(k);
  if (p === undefined) {
    g.pel.set(k, { id, deliveryTime: Date.now(), deliveryCount: 1, consumer: c.name });
    c.pel.add(k);
    resize(ctx, stream, PENDING_BYTES);
    return;
  }
  g.consumers.get(p.consumer)?.pel.delete(k);
  p.consumer = c.name;
  c.pel.add(k);
  p.deliveryTime = Date.now();
  p.deliveryCount = 1;
}

/** A pending entry acknowledged or dropped. */
export function drop(ctx: Context, stream: Stream, g: Group, p: Pending): void {
  changed(ctx);
  const k = idString(p.id);
  g.pel.delete(k);
  g.consumers.get(p.consumer)?.pel.delete(k);
  resize(ctx, stream, -PENDING_BYTES);
}

/** The group's last delivered ID moves on (XREADGROUP with NOACK, XCLAIM's LASTID). */
export function advance(ctx: Context, g: Group, id: Id): void {
  changed(ctx);
  g.lastId = id;
}

/** Whether XDEL left a hole at or after `from` (Redis's streamRangeHasTombstones up to the end). */
export function tombstoneAfter(s: Stream, from: Id): boolean {
  if (s.entries.length === 0 || isZero(s.maxDeleted)) return false;
  if (cmp(s.first, s.maxDeleted) > 0) return false;
  return cmp(from, s.maxDeleted) <= 0;
}

/** The number of entries added up to `id`, when it can be known (Redis's streamEstimateDistanceFromFirstEverEntry). */
export function entriesUpTo(s: Stream, id: Id): bigint {
  const added = BigInt(s.entriesAdded);
  const length = BigInt(s.entries.length);
  if (added === 0n) return 0n;
  if (length === 0n && cmp(id, s.last) < 1) return added;
  const toLast = cmp(id, s.last);
  if (toLast === 0) return added;
  if (toLast > 0) return ENTRIES_READ_UNKNOWN;
  const toFirst = cmp(id, s.first);
  if (isZero(s.maxDeleted) || cmp(s.maxDeleted, s.first) < 0) {
    if (toFirst < 0) return added - length;
    if (toFirst === 0) return added - length + 1n;
  }
  return ENTRIES_READ_UNKNOWN;
}

/** The group's lag (entries not yet delivered), null when it cannot be known. */
export function lag(s: Stream, g: Group): bigint | null {
  if (s.entriesAdded === 0) return 0n;
  if (g.entriesRead !== ENTRIES_READ_UNKNOWN && !tombstoneAfter(s, g.lastId)) return BigInt.asIntN(64, BigInt(s.entriesAdded) - g.entriesRead); // wraps as Redis's long long
  const read = entriesUpTo(s, g.lastId);
  return read === ENTRIES_READ_UNKNOWN ? null : BigInt(s.entriesAdded) - read;
}

export const noGroup = (k: Buffer, g: Buffer): Reply => error(`NOGROUP No such key '${key(k)}' or consumer group '${key(g)}'`);
const subcommandSyntax = (a: Buffer[], cmd: string): Reply =>
  error(`ERR unknown subcommand or wrong number of arguments for '${key(a[1]!).slice(0, 128)}'. Try ${cmd} HELP.`);

export const helpReply = (cmd: string, lines: string[]): Reply =>
  [`${cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`, ...lines, 'HELP', '    Prints this help.'].map(simple);

const XGROUP_HELP = [
  'CREATE <key> <groupname> <id|$> [option]',
  '    Create a new consumer group. Options are:',
  '    * MKSTREAM',
  '      Create the empty stream if it does not exist.',
  '    * ENTRIESREAD entries_read',
  "      Set the group's entries_read counter (internal use).",
  'CREATECONSUMER <key> <groupname> <consumer>',
  '    Create a new consumer in the specified group.',
  'DELCONSUMER <key> <groupname> <consumer>',
  '    Remove the specified consumer.',
  'DESTROY <key> <groupname>',
  '    Remove the specified group.',
  'SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]',
  '    Set the current group ID and entries_read counter.',
];
const XGROUP_ARITY: Record<string, number> = { CREATE: -5, SETID: -5, DESTROY: 4, CREATECONSUMER: 5, DELCONSUMER: 5, HELP: 2 };

function xgroup(a: Buffer[], ctx: Context): Reply {
  const sub = upper(a[1]);
  const arity = XGROUP_ARITY[sub];
  if (arity === undefined) return unknownSubcommand(a[1]!, 'XGROUP');
  if (arity > 0 ? a.length !== arity : a.length < -arity) return wrongArity(`xgroup|${sub.toLowerCase()}`);
  if (sub === 'HELP') return helpReply(upper(a[0]), XGROUP_HELP);
  let mkstream = false;
  let entriesRead = ENTRIES_READ_UNKNOWN;
  for (let i = 5; i < a.length; i++) {
    const opt = upper(a[i]);
    if (sub === 'CREATE' && opt === 'MKSTREAM') {
      mkstream = true;
    } else if ((sub === 'CREATE' || sub === 'SETID') && opt === 'ENTRIESREAD' && i + 1 < a.length) {
      const n = parseInt64(a[++i]!);
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n && n !== -1n) return error('ERR value for ENTRIESREAD must be positive or -1');
      entriesRead = n;
    } else {
      return subcommandSyntax(a, upper(a[0]));
    }
  }
  const k = key(a[2]!);
  const name = key(a[3]!);
  let stream = lookupOf<Stream>(ctx, k, 'stream');
  if (stream === undefined && !mkstream) {
    return error('ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.');
  }
  const g = stream?.groups.get(name);
  if (g === undefined && (sub === 'SETID' || sub === 'CREATECONSUMER' || sub === 'DELCONSUMER')) {
    return error(`NOGROUP No such consumer group '${name}' for key name '${k}'`);
  }
  if (sub === 'CREATE') {
    if (a.length > 8) return subcommandSyntax(a, upper(a[0]));
    const dollar = a[4]!.length === 1 && a[4]![0] === 0x24; // '$'
    const id = dollar ? (stream?.last ?? MIN_ID) : parseId(a[4]!, 0n, true);
    if (id === undefined) return INVALID_ID;
    if (stream === undefined) {
      stream = writable(ctx, a[2]!, 'stream', () => new Stream());
      if (stream === undefined) return OOM;
    }
    if (stream.groups.has(name)) return error('BUSYGROUP Consumer Group name already exists');
    stream.groups.set(name, { lastId: id, entriesRead, pel: new Map(), consumers: new Map() });
    resize(ctx, stream, ELEMENT_OVERHEAD + name.length);
    ctx.store.notify('t', 'xgroup-create', k);
    return OK;
  }
  if (sub === 'SETID') {
    if (a.length !== 5 && a.length !== 7) return subcommandSyntax(a, upper(a[0]));
    const dollar = a[4]!.length === 1 && a[4]![0] === 0x24;
    const id = dollar ? stream!.last : parseId(a[4]!, 0n);
    if (id === undefined) return INVALID_ID;
    g!.lastId = id;
    g!.entriesRead = entriesRead;
    ctx.store.notify('t', 'xgroup-setid', k);
    return OK;
  }
  if (sub === 'DESTROY') {
    if (g === undefined) return 0;
    stream!.groups.delete(name);
    let bytes = ELEMENT_OVERHEAD + name.length + g.pel.size * PENDING_BYTES;
    for (const c of g.consumers.keys()) bytes += ELEMENT_OVERHEAD + c.length;
    resize(ctx, stream!, -bytes);
    ctx.store.notify('t', 'xgroup-destroy', k);
    return 1;
  }
  const consumer = key(a[4]!);
  if (sub === 'CREATECONSUMER') {
    if (g!.consumers.has(consumer)) return 0;
    createConsumer(ctx, stream!, g!, consumer, k);
    return 1;
  }
  // DELCONSUMER: its pending entries are dropped; the reply is how many.
  const c = g!.consumers.get(consumer);
  if (c === undefined) return 0;
  const pending = c.pel.size;
  for (const id of c.pel) g!.pel.delete(id);
  g!.consumers.delete(consumer);
  resize(ctx, stream!, -(pending * PENDING_BYTES + ELEMENT_OVERHEAD + consumer.length));
  ctx.store.notify('t', 'xgroup-delconsumer', k);
  return pending;
}

function xack(a: Buffer[], ctx: Context): Reply {
  const stream = lookupOf<Stream>(ctx, key(a[1]!), 'stream');
  const g = stream?.groups.get(key(a[2]!));
  if (g === undefined) return 0;
  const ids: Id[] = [];
  for (let i = 3; i < a.length; i++) {
    const id = parseId(a[i]!, 0n, true);
    if (id === undefined) return INVALID_ID;
    ids.push(id);
  }
  let acked = 0;
  for (const id of ids) {
    const p = g.pel.get(idString(id));
    if (p === undefined) continue;
    drop(ctx, stream!, g, p);
    acked++;
  }
  return acked;
}

function xpending(a: Buffer[], ctx: Context): Reply {
  if (a.length !== 3 && (a.length < 6 || a.length > 9)) return SYNTAX;
  let start = MIN_ID;
  let end = MIN_ID;
  let count = 0n;
  let minIdle = 0n;
  let consumerName: string | undefined;
  if (a.length >= 6) {
    let at = 3;
    if (upper(a[3]) === 'IDLE') {
      const n = parseInt64(a[4]!);
      if (n === undefined) return NOT_INTEGER;
      minIdle = n;
      if (a.length < 8) return SYNTAX;
      at += 2;
    }
    const n = parseInt64(a[at + 2]!);
    if (n === undefined) return NOT_INTEGER;
    count = n < 0n ? 0n : n;
    const s = parseBound(a[at]!, false);
    if (!isId(s)) return s;
    const e = parseBound(a[at + 1]!, true);
    if (!isId(e)) return e;
    [start, end] = [s, e];
    if (at + 3 < a.length) consumerName = key(a[at + 3]!);
  }
  const stream = lookupOf<Stream>(ctx, key(a[1]!), 'stream');
  const g = stream?.groups.get(key(a[2]!));
  if (g === undefined) return noGroup(a[1]!, a[2]!);
  if (a.length === 3) {
    if (g.pel.size === 0) return [0, null, null, NULL_ARRAY];
    const all = inIdOrder(g.pel.values());
    const owners = byName(g.consumers).filter(([, c]) => c.pel.size > 0).map(([name, c]) => [name, String(c.pel.size)]);
    return [g.pel.size, idString(all[0]!.id), idString(all[all.length - 1]!.id), owners];
  }
  let list: Pending[];
  if (consumerName === undefined) {
    list = inIdOrder(g.pel.values());
  } else {
    const c = g.consumers.get(consumerName);
    if (c === undefined) return [];
    list = consumerPel(g, c);
  }
  const now = Date.now();
  const out: Reply[] = [];
  for (const p of list) {
    if (BigInt(out.length) >= count) break;
    if (cmp(p.id, start) < 0) continue;
    if (cmp(p.id, end) > 0) break;
    if (minIdle !== 0n && BigInt(now - p.deliveryTime) < minIdle) continue;
    out.push([idString(p.id), p.consumer, Math.max(0, now - p.deliveryTime), p.deliveryCount]);
  }
  return out;
}

export const STREAM_GROUPS: CommandTable = {
  xgroup: { arity: -2, run: xgroup },
  xack: { arity: -4, run: xack },
  xpending: { arity: -3, run: xpending },
};
