/** RDB's primitives (rdb.c): lengths, strings (integer-encoded, LZF-compressed), written and read. */
import { MAX_STRING, parseInt64 } from './command.js';
import { LZF_MAX_RATIO, lzfCompress, lzfDecompress } from './lzf.js';

/** A growing buffer: RDB's primitives appended. */
export class Writer {
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

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Malformed input: thrown while decoding, caught at its edge. */
export class Malformed extends Error {}
export const bad = (): never => {
  throw new Malformed('malformed');
};

/** Reading RDB's primitives from `buf` up to `end`, every length checked against what is left. */
export class Reader {
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
