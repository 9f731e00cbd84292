/**
 * Redis's compact encodings as RDB carries them (listpack.c, ziplist.c, intset.c): written for
 * DUMP and RDB files, read back for RESTORE. Readers check every length against the blob and
 * answer undefined for anything malformed, never reading past it.
 */
import { parseInt64 } from './command.js';

/** Redis's listpack: a 6-byte header (total bytes, element count), entries, 0xFF. */
export class ListpackWriter {
  private buf = Buffer.allocUnsafe(64);
  private pos = 6;
  count = 0;

  /** Bytes so far (with the terminator to come). */
  get size(): number {
    return this.pos + 1;
  }

  /** A string, as an integer entry when it is one (as lpAppend). */
  add(b: Buffer): this {
    if (b.length <= 20) {
      const n = parseInt64(b);
      if (n !== undefined) return this.addInt(n);
    }
    const len = b.length;
    const head = len < 64 ? 1 : len < 4096 ? 2 : 5;
    this.room(head + len + 5);
    const start = this.pos;
    if (len < 64) this.buf[this.pos++] = 0x80 | len;
    else if (len < 4096) {
      this.buf[this.pos++] = 0xe0 | (len >> 8);
      this.buf[this.pos++] = len & 0xff;
    } else {
      this.buf[this.pos++] = 0xf0;
      this.buf.writeUInt32LE(len, this.pos);
      this.pos += 4;
    }
    this.buf.set(b, this.pos);
    this.pos += len;
    return this.ended(start);
  }

  addInt(n: bigint): this {
    this.room(14);
    const start = this.pos;
    const b = this.buf;
    if (n >= 0n && n <= 127n) b[this.pos++] = Number(n);
    else if (n >= -4096n && n <= 4095n) {
      const u = Number(n < 0n ? n + 8192n : n);
      b[this.pos++] = 0xc0 | (u >> 8);
      b[this.pos++] = u & 0xff;
    } else if (n >= -32768n && n <= 32767n) {
      b[this.pos++] = 0xf1;
      this.pos = b.writeInt16LE(Number(n), this.pos);
    } else if (n >= -8388608n && n <= 8388607n) {
      b[this.pos++] = 0xf2;
      this.pos = b.writeIntLE(Number(n), this.pos, 3);
    } else if (n >= -2147483648n && n <= 2147483647n) {
      b[this.pos++] = 0xf3;
      this.pos = b.writeInt32LE(Number(n), this.pos);
    } else {
      b[this.pos++] = 0xf4;
      this.pos = b.writeBigInt64LE(n, this.pos);
    }
    return this.ended(start);
  }

  /** The listpack's bytes (a copy: the writer may go on). */
  finish(): Buffer {
    this.room(1);
    this.buf.writeUInt32LE(this.pos + 1, 0);
    this.buf.writeUInt16LE(Math.min(this.count, 65535), 4);
    this.buf[this.pos] = 0xff;
    return Buffer.from(this.buf.subarray(0, this.pos + 1));
  }

  /** An entry ends with its own length (encoding + data), readable backwards. */
  private ended(start: number): this {
    this.pos += writeBacklen(this.buf, this.pos, this.pos - start);
    this.count++;
    return this;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

/** lpEncodeBacklen: 7 bits a byte, most significant first, every byte but the first with bit 7 set. */
function writeBacklen(buf: Buffer, at: number, l: number): number {
  const n = l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
  for (let i = 0; i < n; i++) {
    const shift = 7 * (n - 1 - i);
    buf[at + i] = (Math.floor(l / 2 ** shift) & 127) | (i === 0 ? 0 : 128);
  }
  return n;
}

const BACKLEN = Buffer.alloc(5);

/** A listpack's elements (integers as their decimal strings), or undefined when malformed. */
export function readListpack(lp: Buffer): Buffer[] | undefined {
  if (lp.length < 7 || lp.readUInt32LE(0) !== lp.length || lp[lp.length - 1] !== 0xff) return undefined;
  const declared = lp.readUInt16LE(4);
  const end = lp.length - 1;
  const out: Buffer[] = [];
  let p = 6;
  while (p < end) {
    const start = p;
    const b = lp[p]!;
    let value: Buffer;
    let len = 0;
    let int: number | bigint | undefined;
    if (b < 0x80) {
      int = b;
      p += 1;
    } else if (b < 0xc0) {
      len = b & 0x3f;
      p += 1;
    } else if (b < 0xe0) {
      if (p + 2 > end) return undefined;
      const u = ((b & 0x1f) << 8) | lp[p + 1]!;
      int = u >= 4096 ? u - 8192 : u;
      p += 2;
    } else if (b < 0xf0) {
      if (p + 2 > end) return undefined;
      len = ((b & 0x0f) << 8) | lp[p + 1]!;
      p += 2;
    } else {
      const size = b === 0xf0 ? 5 : b === 0xf1 ? 3 : b === 0xf2 ? 4 : b === 0xf3 ? 5 : b === 0xf4 ? 9 : 0;
      if (size === 0 || p + size > end) return undefined;
      if (b === 0xf0) len = lp.readUInt32LE(p + 1);
      else if (b === 0xf1) int = lp.readInt16LE(p + 1);
      else if (b === 0xf2) int = lp.readIntLE(p + 1, 3);
      else if (b === 0xf3) int = lp.readInt32LE(p + 1);
      else int = lp.readBigInt64LE(p + 1);
      p += size;
    }
    if (int !== undefined) value = Buffer.from(String(int), 'latin1');
    else {
      if (len > end - p) return undefined;
      value = Buffer.from(lp.subarray(p, p + len));
      p += len;
    }
    const n = writeBacklen(BACKLEN, 0, p - start);
    if (p + n > end || !lp.subarray(p, p + n).equals(BACKLEN.subarray(0, n))) return undefined;
    p += n;
    out.push(value);
  }
  if (declared !== 65535 && declared !== out.length) return undefined;
  return out;
}

/** A ziplist's elements (Redis before 7.0 wrote small lists, hashes and sorted sets so), or undefined when malformed. */
export function readZiplist(zl: Buffer): Buffer[] | undefined {
  if (zl.length < 11 || zl.readUInt32LE(0) !== zl.length || zl[zl.length - 1] !== 0xff) return undefined;
  const declared = zl.readUInt16LE(8);
  const end = zl.length - 1;
  const out: Buffer[] = [];
  let p = 10;
  let prev = 0;
  while (p < end) {
    const start = p;
    // The previous entry's length: one byte, or 0xFE and four.
    let prevlen = zl[p]!;
    if (prevlen === 0xfe) {
      if (p + 5 > end) return undefined;
      prevlen = zl.readUInt32LE(p + 1);
      p += 5;
    } else if (prevlen === 0xff) return undefined;
    else p += 1;
    if (prevlen !== prev || p >= end) return undefined;
    const b = zl[p]!;
    let len = -1;
    let int: number | bigint | undefined;
    if (b >> 6 === 0) {
      len = b & 0x3f;
      p += 1;
    } else if (b >> 6 === 1) {
      if (p + 2 > end) return undefined;
      len = ((b & 0x3f) << 8) | zl[p + 1]!;
      p += 2;
    } else if (b === 0x80) {
      if (p + 5 > end) return undefined;
      len = zl.readUInt32BE(p + 1);
      p += 5;
    } else {
      const size = b === 0xc0 ? 2 : b === 0xd0 ? 4 : b === 0xe0 ? 8 : b === 0xf0 ? 3 : b === 0xfe ? 1 : b > 0xf0 && b < 0xfe ? 0 : -1;
      if (size < 0 || p + 1 + size > end) return undefined;
      if (b === 0xc0) int = zl.readInt16LE(p + 1);
      else if (b === 0xd0) int = zl.readInt32LE(p + 1);
      else if (b === 0xe0) int = zl.readBigInt64LE(p + 1);
      else if (b === 0xf0) int = zl.readIntLE(p + 1, 3);
      else if (b === 0xfe) int = zl.readInt8(p + 1);
      else int = (b & 0x0f) - 1;
      p += 1 + size;
    }
    if (int !== undefined) out.push(Buffer.from(String(int), 'latin1'));
    else {
      if (len > end - p) return undefined;
      out.push(Buffer.from(zl.subarray(p, p + len)));
      p += len;
    }
    prev = p - start;
  }
  if (declared !== 65535 && declared !== out.length) return undefined;
  return out;
}

/** Redis's intset: encoding (2, 4 or 8 bytes a member), count, members ascending, little-endian. */
export function writeIntset(members: readonly bigint[]): Buffer {
  const sorted = [...members].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  let enc = 2;
  for (const n of sorted) {
    if (n < -2147483648n || n > 2147483647n) enc = 8;
    else if ((n < -32768n || n > 32767n) && enc < 4) enc = 4;
  }
  const out = Buffer.allocUnsafe(8 + enc * sorted.length);
  out.writeUInt32LE(enc, 0);
  out.writeUInt32LE(sorted.length, 4);
  sorted.forEach((n, i) => {
    const at = 8 + i * enc;
    if (enc === 2) out.writeInt16LE(Number(n), at);
    else if (enc === 4) out.writeInt32LE(Number(n), at);
    else out.writeBigInt64LE(n, at);
  });
  return out;
}

/** An intset's members as decimal strings, or undefined when malformed (sizes, or not strictly ascending). */
export function readIntset(blob: Buffer): string[] | undefined {
  if (blob.length < 8) return undefined;
  const enc = blob.readUInt32LE(0);
  const count = blob.readUInt32LE(4);
  if ((enc !== 2 && enc !== 4 && enc !== 8) || blob.length !== 8 + enc * count) return undefined;
  const out: string[] = [];
  let last: bigint | undefined;
  for (let i = 0; i < count; i++) {
    const at = 8 + i * enc;
    const n = enc === 8 ? blob.readBigInt64LE(at) : BigInt(enc === 4 ? blob.readInt32LE(at) : blob.readInt16LE(at));
    if (last !== undefined && n <= last) return undefined;
    last = n;
    out.push(String(n));
  }
  return out;
}
