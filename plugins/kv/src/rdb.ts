/**
 * Redis's serialization format (RDB version 10, Redis 7.0): a value as DUMP carries it, and a
 * whole dataset as an RDB file (the replication's initial sync). Values are written in types
 * Redis 7.0 loads as it would hold them (listpacks, intsets, quicklist nodes, stream listpacks);
 * read back are those and what Redis 7.0 itself DUMPs, older encodings included (ziplists, LZF).
 * Decoding never reads past the payload and sizes nothing by a length it has not checked.
 * Primitives in rdb-io.ts, streams in rdb-stream.ts, compact encodings in listpack.ts.
 */
import { ENCODING_LIMITS, ELEMENT_OVERHEAD } from './collection.js';
import { INT64_MAX, key } from './command.js';
import { crc64 } from './crc64.js';
import { Hash } from './hashes.js';
import { ListpackWriter, readIntset, readListpack, readZiplist, writeIntset } from './listpack.js';
import { List } from './lists.js';
import { Malformed, Reader, Writer, bad, latin1 } from './rdb-io.js';
import { readStream, writeStream } from './rdb-stream.js';
import { RSet } from './sets.js';
import type { Store, Value } from './store.js';
import { Stream } from './streams.js';
import { ZSet, formatScore } from './zsets.js';

export const RDB_VERSION = 10;

/** Value types (rdb.h). */
const T = {
  STRING: 0, LIST: 1, SET: 2, ZSET: 3, HASH: 4, ZSET_2: 5,
  LIST_ZIPLIST: 10, SET_INTSET: 11, ZSET_ZIPLIST: 12, HASH_ZIPLIST: 13, LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15, HASH_LISTPACK: 16, ZSET_LISTPACK: 17, LIST_QUICKLIST_2: 18, STREAM_LISTPACKS_2: 19,
} as const;
/** File opcodes (rdb.h). */
const OP = { AUX: 250, RESIZEDB: 251, EXPIRETIME_MS: 252, SELECTDB: 254, EOF: 255 } as const;
/** Quicklist node containers: one element as is, or a listpack. */
const PLAIN = 1;
const PACKED = 2;
/** Bytes a list's listpack node holds at most (Redis's list-max-listpack-size -2: 8 kB). */
const LIST_NODE_BYTES = 8192;

/** The value's type byte and body, as rdbSaveObjectType and rdbSaveObject write them (`name`: the key, between them). */
function writeValue(w: Writer, value: Value, name?: Buffer): void {
  // In an RDB file the key goes between the type and the body.
  const head = (type: number): void => {
    w.byte(type);
    if (name !== undefined) w.string(name);
  };
  if (value instanceof Buffer) {
    head(T.STRING);
    w.string(value);
  } else if (value instanceof List) {
    head(T.LIST_QUICKLIST_2);
    writeList(w, value.items);
  } else if (value instanceof RSet) {
    if (value.intset) {
      head(T.SET_INTSET);
      w.string(writeIntset([...value.members].map(BigInt)));
    } else {
      head(T.SET);
      w.len(value.members.size);
      for (const m of value.members) w.string(latin1(m));
    }
  } else if (value instanceof Hash) {
    if (value.listpack) {
      head(T.HASH_LISTPACK);
      const lp = new ListpackWriter();
      for (const [f, v] of value.fields) lp.add(latin1(f)).add(v);
      w.string(lp.finish());
    } else {
      head(T.HASH);
      w.len(value.fields.size);
      for (const [f, v] of value.fields) {
        w.string(latin1(f));
        w.string(v);
      }
    }
  } else if (value instanceof ZSet) {
    const sorted = value.sorted();
    if (value.listpack) {
      head(T.ZSET_LISTPACK);
      const lp = new ListpackWriter();
      for (const [m, s] of sorted) lp.add(latin1(m)).add(latin1(formatScore(s)));
      w.string(lp.finish());
    } else {
      // Highest score first, as Redis (its loader then inserts each at the head).
      head(T.ZSET_2);
      w.len(sorted.length);
      const d = Buffer.allocUnsafe(8);
      for (let i = sorted.length - 1; i >= 0; i--) {
        w.string(latin1(sorted[i]![0]));
        d.writeDoubleLE(sorted[i]![1], 0);
        w.bytes(d);
      }
    }
  } else if (value instanceof Stream) {
    head(T.STREAM_LISTPACKS_2);
    writeStream(w, value);
  } else {
    throw new Error(`rdb: no encoding for a value of type ${(value as { type: string }).type}`);
  }
}

/** A list as quicklist nodes: listpacks of up to 8 kB (an element larger than that alone in its node). */
function writeList(w: Writer, items: readonly Buffer[]): void {
  const nodes: Buffer[] = [];
  let lp = new ListpackWriter();
  for (const item of items) {
    if (lp.count > 0 && lp.size + item.length + 11 > LIST_NODE_BYTES) {
      nodes.push(lp.finish());
      lp = new ListpackWriter();
    }
    lp.add(item);
  }
  if (lp.count > 0) nodes.push(lp.finish());
  w.len(nodes.length);
  for (const node of nodes) {
    w.len(PACKED);
    w.string(node);
  }
}

/** Redis's DUMP payload of a value: type, body, RDB version (2 bytes) and CRC-64 (8 bytes), little-endian. */
export function dumpPayload(value: Value): Buffer {
  const w = new Writer();
  writeValue(w, value);
  w.room(10);
  w.pos = w.buf.writeUInt16LE(RDB_VERSION, w.pos);
  w.pos = w.buf.writeBigUInt64LE(crc64(0n, w.buf.subarray(0, w.pos)), w.pos);
  return Buffer.from(w.finish());
}

/** verifyDumpPayload: a footer with a version this reader knows and a matching checksum. */
export function verifyPayload(payload: Buffer): boolean {
  if (payload.length < 10) return false;
  const footer = payload.length - 10;
  if (payload.readUInt16LE(footer) > RDB_VERSION) return false;
  return crc64(0n, payload.subarray(0, payload.length - 8)) === payload.readBigUInt64LE(footer + 2);
}

/** Elements in twos (a hash's fields and values, a sorted set's members and scores). */
function pairs(elements: Buffer[] | undefined): [Buffer, Buffer][] {
  if (elements === undefined || elements.length % 2 !== 0) bad();
  const out: [Buffer, Buffer][] = [];
  for (let i = 0; i < elements!.length; i += 2) out.push([elements![i]!, elements![i + 1]!]);
  return out;
}

function makeList(items: Buffer[]): List {
  if (items.length === 0) bad();
  const list = new List(items);
  list.bytes = items.reduce((n, b) => n + b.length + ELEMENT_OVERHEAD, 0);
  return list;
}

function makeSet(members: Iterable<string>): RSet {
  const set = new RSet();
  for (const m of members) {
    if (!set.add(m)) bad(); // duplicate member
    set.bytes += m.length + ELEMENT_OVERHEAD;
  }
  if (set.members.size === 0) bad();
  return set;
}

function makeHash(entries: [Buffer, Buffer][]): Hash {
  const hash = new Hash();
  for (const [f, v] of entries) {
    const field = key(f);
    if (hash.fields.has(field)) bad();
    hash.fields.set(field, v);
    hash.bytes += f.length + v.length + ELEMENT_OVERHEAD;
    if (f.length > ENCODING_LIMITS.hashMaxListpackValue || v.length > ENCODING_LIMITS.hashMaxListpackValue) hash.listpack = false;
  }
  if (hash.fields.size === 0) bad();
  if (hash.fields.size > ENCODING_LIMITS.hashMaxListpackEntries) hash.listpack = false;
  return hash;
}

function makeZSet(entries: [Buffer, number][]): ZSet {
  const zset = new ZSet();
  for (const [m, score] of entries) {
    const member = key(m);
    if (Number.isNaN(score) || zset.scores.has(member)) bad();
    zset.scores.set(member, score);
    zset.bytes += m.length + ELEMENT_OVERHEAD;
    if (m.length > ENCODING_LIMITS.zsetMaxListpackValue) zset.listpack = false;
  }
  if (zset.scores.size === 0) bad();
  if (zset.scores.size > ENCODING_LIMITS.zsetMaxListpackEntries) zset.listpack = false;
  return zset;
}

/** A score as written in a listpack or ziplist: an integer, or text strtod reads (inf, -inf too). */
function parseScore(b: Buffer): number {
  const s = b.toString('latin1').toLowerCase();
  if (s === 'inf' || s === '+inf' || s === 'infinity') return Infinity;
  if (s === '-inf' || s === '-infinity') return -Infinity;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/.test(s)) bad();
  return Number(s);
}

/** RDB_TYPE_ZSET's score: a length byte then its text; 253 NaN, 254 +inf, 255 -inf. */
function oldScore(r: Reader): number {
  const n = r.byte();
  if (n === 253) return NaN;
  if (n === 254) return Infinity;
  if (n === 255) return -Infinity;
  return parseScore(r.take(n));
}

function readValue(r: Reader, type: number): Value {
  switch (type) {
    case T.STRING:
      return r.string();
    case T.LIST: {
      const items: Buffer[] = [];
      for (let n = r.len(); n > 0; n--) items.push(r.string());
      return makeList(items);
    }
    case T.LIST_ZIPLIST:
      return makeList(readZiplist(r.string()) ?? bad());
    case T.LIST_QUICKLIST:
    case T.LIST_QUICKLIST_2: {
      const items: Buffer[] = [];
      for (let n = r.len(); n > 0; n--) {
        const container = type === T.LIST_QUICKLIST_2 ? r.len() : PACKED;
        const data = r.string();
        if (data.length === 0 || (container !== PLAIN && container !== PACKED)) bad();
        if (container === PLAIN) items.push(data);
        else items.push(...((type === T.LIST_QUICKLIST ? readZiplist(data) : readListpack(data)) ?? bad()));
      }
      return makeList(items);
    }
    case T.SET: {
      const members: string[] = [];
      for (let n = r.len(); n > 0; n--) members.push(key(r.string()));
      return makeSet(members);
    }
    case T.SET_INTSET:
      return makeSet(readIntset(r.string()) ?? bad());
    case T.HASH: {
      const entries: [Buffer, Buffer][] = [];
      for (let n = r.len(); n > 0; n--) entries.push([r.string(), r.string()]);
      return makeHash(entries);
    }
    case T.HASH_ZIPLIST:
      return makeHash(pairs(readZiplist(r.string())));
    case T.HASH_LISTPACK:
      return makeHash(pairs(readListpack(r.string())));
    case T.ZSET:
    case T.ZSET_2: {
      const entries: [Buffer, number][] = [];
      for (let n = r.len(); n > 0; n--) entries.push([r.string(), type === T.ZSET ? oldScore(r) : r.take(8).readDoubleLE(0)]);
      return makeZSet(entries);
    }
    case T.ZSET_ZIPLIST:
      return makeZSet(pairs(readZiplist(r.string())).map(([m, s]) => [m, parseScore(s)]));
    case T.ZSET_LISTPACK:
      return makeZSet(pairs(readListpack(r.string())).map(([m, s]) => [m, parseScore(s)]));
    case T.STREAM_LISTPACKS:
    case T.STREAM_LISTPACKS_2:
      return readStream(r, type === T.STREAM_LISTPACKS_2);
    default:
      return bad(); // modules, zipmaps and types unknown to Redis 7.0
  }
}

/**
 * The value a RESTORE payload holds (its footer already verified by `verifyPayload`), or
 * undefined when malformed (Redis's "Bad data format"). What follows the value before the
 * footer is not looked at, as Redis.
 */
export function restoreValue(payload: Buffer): Value | undefined {
  const r = new Reader(payload, payload.length - 10);
  try {
    return readValue(r, r.byte());
  } catch (err) {
    if (err instanceof Malformed || err instanceof RangeError) return undefined;
    throw err;
  }
}

export interface RdbOptions {
  /** The time keys are live at and the file's ctime (ms; default now). */
  readonly now?: number;
  /** More AUX fields, after Redis's own (replication's repl-id, repl-offset…). */
  readonly aux?: Readonly<Record<string, string | number>>;
}

/**
 * The whole store as an RDB file (version 10) Redis 7.0 loads: magic, AUX fields, database 0
 * with its size hints, every live key (its expiry in ms first, when it has one), EOF and the
 * CRC-64 of all before it. Keys expired by `now` are left out (and left in the store).
 */
export function rdbFile(store: Store, opts: RdbOptions = {}): Buffer {
  const now = opts.now ?? Date.now();
  const w = new Writer();
  w.bytes(latin1(`REDIS00${RDB_VERSION}`));
  const aux = (k: string, v: string | number): void => {
    w.byte(OP.AUX);
    w.string(latin1(k));
    w.string(latin1(String(v)));
  };
  aux('redis-ver', '7.0.0');
  aux('redis-bits', 64);
  aux('ctime', Math.floor(now / 1000));
  aux('used-mem', store.used);
  for (const [k, v] of Object.entries(opts.aux ?? {})) aux(k, v);
  aux('aof-base', 0);
  let live = 0;
  let expiring = 0;
  for (const k of store.data.keys()) {
    const at = store.expires.get(k);
    if (at !== undefined && at <= now) continue;
    live++;
    if (at !== undefined) expiring++;
  }
  if (live > 0) {
    w.byte(OP.SELECTDB);
    w.len(0);
    w.byte(OP.RESIZEDB);
    w.len(live);
    w.len(expiring);
    for (const [k, entry] of store.data) {
      const at = store.expires.get(k);
      if (at !== undefined) {
        if (at <= now) continue;
        w.byte(OP.EXPIRETIME_MS);
        w.room(8);
        const ms = BigInt(Math.trunc(at));
        w.pos = w.buf.writeBigInt64LE(ms > INT64_MAX ? INT64_MAX : ms, w.pos); // 2^63 - 1 rounds up as a double
      }
      writeValue(w, entry.value, latin1(k));
    }
  }
  w.byte(OP.EOF);
  w.room(8);
  w.pos = w.buf.writeBigUInt64LE(crc64(0n, w.buf.subarray(0, w.pos)), w.pos);
  return Buffer.from(w.finish());
}
