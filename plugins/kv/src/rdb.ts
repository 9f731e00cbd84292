/**
 * Redis's serialization format (RDB version 10, Redis 7.0): a value as DUMP carries it, and a
 * whole dataset as an RDB file (the replication's initial sync). Values are written in types
 * Redis 7.0 loads as it would hold them (listpacks, intsets, quicklist nodes, stream listpacks);
 * read back are those and what Redis 7.0 itself DUMPs, older encodings included (ziplists, LZF).
 * Decoding never reads past the payload and sizes nothing by a length it has not checked.
 */
import { ENCODING_LIMITS, ELEMENT_OVERHEAD } from './collection.js';
import { INT64_MAX, MAX_STRING, key, parseInt64 } from './command.js';
import { crc64 } from './crc64.js';
import { Hash } from './hashes.js';
import { ListpackWriter, readIntset, readListpack, readZiplist, writeIntset } from './listpack.js';
import { List } from './lists.js';
import { LZF_MAX_RATIO, lzfCompress, lzfDecompress } from './lzf.js';
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
/** A stream's listpack node: entries and bytes at most (stream-node-max-entries, -max-bytes). */
const STREAM_NODE_ENTRIES = 100;
const STREAM_NODE_BYTES = 4096;
const STREAM_DELETED = 1;
const STREAM_SAMEFIELDS = 2;

/** A growing buffer: RDB's primitives appended. */
class Writer {
  buf = Buffer.allocUnsafe(256);
  pos = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** rdbSaveLen: 6 bits, 14 bits, 32 or 64 bits big-endian after a marker. */
  len(n: number | bigint): void {
    this.room(9);
    if (typeof n === 'bigint' && n <= 0xffffffffn) n = Number(n);
    if (typeof n === 'number' && n < 64) this.buf[this.pos++] = n;
    else if (typeof n === 'number' && n < 16384) {
      this.buf[this.pos++] = 0x40 | (n >> 8);
      this.buf[this.pos++] = n & 0xff;
    } else if (typeof n === 'number' && n <= 0xffffffff) {
      this.buf[this.pos++] = 0x80;
      this.pos = this.buf.writeUInt32BE(Number(n), this.pos);
    } else {
      this.buf[this.pos++] = 0x81;
      this.pos = this.buf.writeBigUInt64BE(BigInt(n), this.pos);
    }
  }

  /** rdbSaveRawString: a short integer string as an 8, 16 or 32-bit integer, else LZF-compressed, else length and bytes. */
  string(b: Buffer): void {
    if (b.length <= 11) {
      const n = parseInt64(b);
      if (n !== undefined && n >= -2147483648n && n <= 2147483647n) {
        this.room(5);
        const v = Number(n);
        if (v >= -128 && v <= 127) {
          this.buf[this.pos++] = 0xc0;
          this.pos = this.buf.writeInt8(v, this.pos);
        } else if (v >= -32768 && v <= 32767) {
          this.buf[this.pos++] = 0xc1;
          this.pos = this.buf.writeInt16LE(v, this.pos);
        } else {
          this.buf[this.pos++] = 0xc2;
          this.pos = this.buf.writeInt32LE(v, this.pos);
        }
        return;
      }
    }
    // Redis's rdbcompression (on by default): LZF when it saves 4 bytes at least.
    const packed = b.length > 20 ? lzfCompress(b, b.length - 4) : undefined;
    if (packed !== undefined) {
      this.byte(0xc3);
      this.len(packed.length);
      this.len(b.length);
      this.bytes(packed);
      return;
    }
    this.len(b.length);
    this.bytes(b);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A stream ID as a node key: ms and seq, 64 bits each, big-endian (so keys sort as IDs). */
function streamKey(ms: bigint, seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(ms, 0);
  b.writeBigUInt64BE(seq, 8);
  return b;
}

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

/**
 * A stream as Redis lays it out (t_stream.c): listpack nodes keyed by their first ID, each
 * opening with a master entry (live count, deleted count, the first entry's field names) that
 * later entries with the same fields refer to; then the metadata.
 */
function writeStream(w: Writer, s: Stream): void {
  const nodes: [Buffer, Buffer][] = [];
  const entries = s.entries;
  for (let i = 0; i < entries.length;) {
    const master = entries[i]!;
    const names = master.fields.filter((_, k) => k % 2 === 0);
    let n = 0;
    let bytes = 0;
    while (i + n < entries.length && n < STREAM_NODE_ENTRIES && (n === 0 || bytes < STREAM_NODE_BYTES)) {
      bytes += entries[i + n]!.fields.reduce((sum, b) => sum + b.length + 2, 4);
      n++;
    }
    const lp = new ListpackWriter().addInt(BigInt(n)).addInt(0n).addInt(BigInt(names.length));
    for (const f of names) lp.add(f);
    lp.addInt(0n);
    for (const e of entries.slice(i, i + n)) {
      const pairs = e.fields.length / 2;
      const same = pairs === names.length && names.every((f, k) => f.equals(e.fields[k * 2]!));
      lp.addInt(BigInt(same ? STREAM_SAMEFIELDS : 0)).addInt(BigInt.asIntN(64, e.ms - master.ms)).addInt(BigInt.asIntN(64, e.seq - master.seq));
      if (same) for (let k = 1; k < e.fields.length; k += 2) lp.add(e.fields[k]!);
      else {
        lp.addInt(BigInt(pairs));
        for (const f of e.fields) lp.add(f);
      }
      lp.addInt(BigInt(same ? pairs + 3 : pairs * 2 + 4));
    }
    nodes.push([streamKey(master.ms, master.seq), lp.finish()]);
    i += n;
  }
  w.len(nodes.length);
  for (const [k, lp] of nodes) {
    w.string(k);
    w.string(lp);
  }
  const first = entries[0];
  w.len(entries.length);
  w.len(s.lastMs);
  w.len(s.lastSeq);
  w.len(first?.ms ?? 0n);
  w.len(first?.seq ?? 0n);
  w.len(0); // greatest deleted ID, ms and seq: kv deletes no entries
  w.len(0);
  w.len(entries.length); // entries ever added
  // CONSUMER GROUPS: none written yet (the Stream holds none); their encoding goes here:
  // per group its name, last-delivered ID, entries-read, PEL (ID, delivery time ms LE, count)
  // and consumers (name, seen time ms LE, their PEL IDs).
  w.len(0);
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

/** Malformed input: thrown while decoding, caught at its edge. */
class Malformed extends Error {}
const bad = (): never => {
  throw new Malformed('malformed');
};

/** Reading RDB's primitives from `buf` up to `end`, every length checked against what is left. */
class Reader {
  pos = 0;
  /** Bytes LZF strings may still inflate to: 512 MB for the whole payload, not each string. */
  inflate = MAX_STRING;
  constructor(readonly buf: Buffer, readonly end: number) {}

  get left(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos >= this.end) bad();
    return this.buf[this.pos++]!;
  }

  take(n: number): Buffer {
    if (n > this.left) bad();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A length, or the marker of a string in a special encoding ({ enc }: an integer, LZF). */
  lenOrEnc(): number | bigint | { enc: number } {
    const b = this.byte();
    const kind = b >> 6;
    if (kind === 0) return b & 0x3f;
    if (kind === 1) return ((b & 0x3f) << 8) | this.byte();
    if (kind === 3) return { enc: b & 0x3f };
    if (b === 0x80) return this.take(4).readUInt32BE(0);
    if (b === 0x81) return this.take(8).readBigUInt64BE(0);
    return bad();
  }

  /** A 64-bit unsigned length, as a bigint (stream IDs). */
  big(): bigint {
    const n = this.lenOrEnc();
    if (typeof n === 'object') bad();
    return BigInt(n as number | bigint);
  }

  /** A count or size: never more than the bytes left (each thing counted takes one at least). */
  len(): number {
    const n = this.lenOrEnc();
    if (typeof n === 'object' || n > this.left) bad();
    return Number(n);
  }

  /** A string: raw, an integer encoding, or LZF-compressed; always a copy (the payload is a view of the read). */
  string(): Buffer {
    const n = this.lenOrEnc();
    if (typeof n !== 'object') {
      if (n > this.left) bad();
      return Buffer.from(this.take(Number(n)));
    }
    if (n.enc === 0) return latin1(String(this.take(1).readInt8(0)));
    if (n.enc === 1) return latin1(String(this.take(2).readInt16LE(0)));
    if (n.enc === 2) return latin1(String(this.take(4).readInt32LE(0)));
    if (n.enc !== 3) bad();
    const clen = this.len();
    const ulen = this.lenOrEnc();
    if (typeof ulen === 'object' || ulen > clen * LZF_MAX_RATIO || ulen > this.inflate) bad();
    this.inflate -= Number(ulen);
    return lzfDecompress(this.take(clen), Number(ulen)) ?? bad();
  }
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

const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);

/** A stream: its nodes' live entries in ID order, its last ID; the consumer groups read and dropped. */
function readStream(r: Reader, v2: boolean): Stream {
  const stream = new Stream();
  const entries = stream.entries;
  let lastMs = -1n;
  let lastSeq = 0n;
  for (let nodes = r.len(); nodes > 0; nodes--) {
    const nodeKey = r.string();
    if (nodeKey.length !== 16) bad();
    const masterMs = nodeKey.readBigUInt64BE(0);
    const masterSeq = nodeKey.readBigUInt64BE(8);
    const e = readListpack(r.string()) ?? bad();
    if (e.length === 0) bad();
    let i = 0;
    const next = (): Buffer => (i < e.length ? e[i++]! : bad());
    const int = (): bigint => parseInt64(next()) ?? bad();
    const live = int();
    int(); // deleted entries
    const nameCount = Number(int());
    if (nameCount < 0 || nameCount > e.length) bad();
    const names: Buffer[] = [];
    for (let k = 0; k < nameCount; k++) names.push(next());
    if (int() !== 0n) bad();
    let seen = 0n;
    while (i < e.length) {
      const flags = Number(int());
      const ms = u64(masterMs + int());
      const seq = u64(masterSeq + int());
      const fields: Buffer[] = [];
      let pairCount: number;
      if (flags & STREAM_SAMEFIELDS) {
        pairCount = nameCount;
        for (let k = 0; k < nameCount; k++) fields.push(names[k]!, next());
      } else {
        pairCount = Number(int());
        if (pairCount < 0 || pairCount > e.length) bad();
        for (let k = 0; k < pairCount * 2; k++) fields.push(next());
      }
      if (int() !== BigInt(flags & STREAM_SAMEFIELDS ? pairCount + 3 : pairCount * 2 + 4)) bad();
      if (flags & STREAM_DELETED) continue;
      // IDs strictly ascending, across nodes too: kv's XRANGE walks them in order.
      if (ms < lastMs || (ms === lastMs && seq <= lastSeq)) bad();
      lastMs = ms;
      lastSeq = seq;
      entries.push({ ms, seq, fields });
      stream.bytes += fields.reduce((n, b) => n + b.length, ELEMENT_OVERHEAD);
      seen++;
    }
    if (seen !== live) bad();
  }
  if (BigInt(entries.length) !== r.big()) bad();
  stream.lastMs = r.big();
  stream.lastSeq = r.big();
  if (entries.length > 0 && (lastMs > stream.lastMs || (lastMs === stream.lastMs && lastSeq > stream.lastSeq))) bad();
  if (v2) for (let k = 0; k < 5; k++) r.big(); // first ID, greatest deleted ID, entries ever added
  // CONSUMER GROUPS: read (to check the payload) but not kept: the Stream holds none yet.
  for (let groups = r.len(); groups > 0; groups--) {
    r.string(); // name
    r.big(); // last-delivered ID
    r.big();
    if (v2) r.big(); // entries read
    for (let pel = r.len(); pel > 0; pel--) {
      r.take(16 + 8); // ID, delivery time
      r.big(); // delivery count
    }
    for (let consumers = r.len(); consumers > 0; consumers--) {
      r.string(); // name
      r.take(8); // seen time
      for (let pel = r.len(); pel > 0; pel--) r.take(16);
    }
  }
  return stream;
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
