/** Streams in RDB (RDB_TYPE_STREAM_LISTPACKS_2, as t_stream.c lays them out): written, and read back. */
import { ELEMENT_OVERHEAD } from './collection.js';
import { parseInt64 } from './command.js';
import { ListpackWriter, readListpack } from './listpack.js';
import { bad, type Reader, type Writer } from './rdb-io.js';
import { PENDING_BYTES, byName, inIdOrder, type Consumer, type Group, type Pending } from './stream-groups.js';
import { cmp, idString, type Id } from './stream-id.js';
import { Stream } from './streams.js';

/** A stream's listpack node: entries and bytes at most (stream-node-max-entries, -max-bytes). */
const STREAM_NODE_ENTRIES = 100;
const STREAM_NODE_BYTES = 4096;
const STREAM_DELETED = 1;
const STREAM_SAMEFIELDS = 2;

/** A stream ID as a node key: ms and seq, 64 bits each, big-endian (so keys sort as IDs). */
function streamKey(ms: bigint, seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(ms, 0);
  b.writeBigUInt64BE(seq, 8);
  return b;
}

/**
 * A stream as Redis lays it out (t_stream.c): listpack nodes keyed by their first ID, each
 * opening with a master entry (live count, deleted count, the first entry's field names) that
 * later entries with the same fields refer to; then the metadata.
 */
export function writeStream(w: Writer, s: Stream): void {
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
  w.len(entries.length);
  writeId(w, s.last);
  writeId(w, s.first);
  writeId(w, s.maxDeleted);
  w.len(s.entriesAdded);
  // Consumer groups, by name: the last ID delivered, entries read (unknown: -1 as 64 bits), the
  // PEL in ID order (ID, delivery time in ms little-endian, count), then each consumer, by name
  // (its seen time, the IDs it owns).
  w.len(s.groups.size);
  for (const [name, g] of byName(s.groups)) {
    w.string(Buffer.from(name, 'latin1'));
    writeId(w, g.lastId);
    w.len(BigInt.asUintN(64, g.entriesRead));
    const pel = inIdOrder(g.pel.values());
    w.len(pel.length);
    for (const p of pel) {
      w.bytes(streamKey(p.id.ms, p.id.seq));
      w.bytes(millis(p.deliveryTime));
      w.len(p.deliveryCount);
    }
    w.len(g.consumers.size);
    for (const [cname, c] of byName(g.consumers)) {
      w.string(Buffer.from(cname, 'latin1'));
      w.bytes(millis(c.seenTime));
      const owned = pel.filter((p) => c.pel.has(idString(p.id)));
      w.len(owned.length);
      for (const p of owned) w.bytes(streamKey(p.id.ms, p.id.seq));
    }
  }
}

function writeId(w: Writer, id: Id): void {
  w.len(id.ms);
  w.len(id.seq);
}

/** A time in ms as RDB writes it: 8 bytes, little-endian. */
function millis(ms: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64LE(BigInt(ms));
  return b;
}

const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);

/** A stream: its nodes' live entries in ID order, its last ID; the consumer groups read and dropped. */
export function readStream(r: Reader, v2: boolean): Stream {
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
  stream.last = readId(r);
  if (entries.length > 0 && cmp({ ms: lastMs, seq: lastSeq }, stream.last) > 0) bad();
  if (v2) {
    stream.first = readId(r);
    stream.maxDeleted = readId(r);
    stream.entriesAdded = Number(r.big());
  } else {
    // Before 7.0 none of these were kept: as Redis, the first entry's ID and the entries there are.
    stream.first = entries[0] ?? stream.first;
    stream.entriesAdded = entries.length;
  }
  for (let groups = r.len(); groups > 0; groups--) {
    const name = r.string().toString('latin1');
    if (stream.groups.has(name)) bad();
    const g: Group = { lastId: readId(r), entriesRead: v2 ? BigInt.asIntN(64, r.big()) : -1n, pel: new Map(), consumers: new Map() };
    stream.groups.set(name, g);
    stream.bytes += ELEMENT_OVERHEAD + name.length;
    for (let n = r.len(); n > 0; n--) {
      const id = idOf(r.take(16));
      const p: Pending = { id, deliveryTime: Number(r.take(8).readBigInt64LE(0)), deliveryCount: Number(r.big()), consumer: '' };
      if (g.pel.has(idString(id))) bad();
      g.pel.set(idString(id), p);
      stream.bytes += PENDING_BYTES;
    }
    for (let n = r.len(); n > 0; n--) {
      const cname = r.string().toString('latin1');
      if (g.consumers.has(cname)) bad();
      const c: Consumer = { name: cname, seenTime: Number(r.take(8).readBigInt64LE(0)), pel: new Set() };
      g.consumers.set(cname, c);
      stream.bytes += ELEMENT_OVERHEAD + cname.length;
      for (let m = r.len(); m > 0; m--) {
        const key = idString(idOf(r.take(16)));
        // Each pending entry is owned by one consumer of its group.
        const p = g.pel.get(key) ?? bad();
        if (p.consumer !== '') bad();
        p.consumer = cname;
        c.pel.add(key);
      }
    }
    for (const p of g.pel.values()) if (p.consumer === '') bad();
  }
  return stream;
}

function readId(r: Reader): Id {
  return { ms: r.big(), seq: r.big() };
}

/** A node key or PEL ID: ms and seq, big-endian. */
function idOf(b: Buffer): Id {
  return { ms: b.readBigUInt64BE(0), seq: b.readBigUInt64BE(8) };
}
