/** Streams in RDB (RDB_TYPE_STREAM_LISTPACKS_2, as t_stream.c lays them out): written, and read back. */
import { ELEMENT_OVERHEAD } from './collection.js';
import { parseInt64 } from './command.js';
import { ListpackWriter, readListpack } from './listpack.js';
import { bad, type Reader, type Writer } from './rdb-io.js';
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
  const first = entries[0];
  w.len(entries.length);
  w.len(s.lastMs);
  w.len(s.lastSeq);
  w.len(first?.ms ?? 0n);
  w.len(first?.seq ?? 0n);
  w.len(0); // greatest deleted ID, ms and seq: kv deletes no entries
  w.len(0);
  w.len(entries.length); // entries ever added: all still there, while kv deletes none
  // CONSUMER GROUPS: none written yet (the Stream holds none); their encoding goes here:
  // per group its name, last-delivered ID, entries-read, PEL (ID, delivery time ms LE, count)
  // and consumers (name, seen time ms LE, their PEL IDs).
  w.len(0);
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
