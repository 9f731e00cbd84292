import { CursorProtocol, ProtocolError } from '@socketserver/core';

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

type Reply = Buffer | Uint8Array | string;

/**
 * D. J. Bernstein's netstrings: `<length>:<bytes>,` (`5:hello,`; `0:,` is empty).
 *
 * Malformed input, each a `ProtocolError` raised as soon as it is seen:
 * - a byte other than a digit before the `:` (so `-1:` and `abc` fail at the first byte);
 * - a leading zero (`05:hello,`); an empty length (`:`);
 * - a length over `maxLength`, detected while the digits arrive, before the `:`;
 * - anything but `,` after the payload.
 * The length prefix is parsed once; while the payload arrives only its size is compared,
 * and `expected` tells the framework the frame's size so it can join the reads once.
 */
export class NetstringProtocol extends CursorProtocol<Buffer, Reply> {
  /** Digits of the pending length prefix parsed so far, and their value. */
  private digits = 0;
  private length = 0;
  /** Size of the whole pending frame once its prefix is complete, else 0. */
  private frame = 0;

  constructor(readonly maxLength: number) {
    super();
  }

  /** Bytes the pending frame needs in all, once its prefix is parsed. */
  get expected(): number {
    return this.frame;
  }

  decodeAt(data: Buffer, start: number): Buffer | undefined {
    if (this.frame === 0 && !this.parsePrefix(data, start)) return undefined;
    const end = start + this.frame; // just after the comma
    if (data.length < end) return undefined;
    if (data[end - 1] !== COMMA) throw new ProtocolError(`netstring: expected "," after ${this.length} bytes of payload`);
    const payload = data.subarray(start + this.digits + 1, end - 1);
    this.frame = this.digits = this.length = 0;
    this.next = end;
    return payload;
  }

  /** Scan the length digits not yet seen; true once the `:` is found. */
  private parsePrefix(data: Buffer, start: number): boolean {
    let i = start + this.digits;
    let length = this.length;
    for (; i < data.length; i++) {
      const c = data[i]!;
      if (c === COLON) break;
      if (c < ZERO || c > NINE) {
        throw new ProtocolError(`netstring: ${i === start ? 'expected a length' : 'expected a digit or ":"'}, got ${describe(c)}`);
      }
      if (i === start + 1 && data[start] === ZERO) throw new ProtocolError('netstring: length has a leading zero');
      length = length * 10 + (c - ZERO);
      if (length > this.maxLength) throw new ProtocolError(`netstring: length over ${this.maxLength} bytes (--max-netstring)`);
    }
    this.digits = i - start;
    this.length = length;
    if (i === data.length) return false;
    if (i === start) throw new ProtocolError('netstring: expected a length, got ":"');
    this.frame = this.digits + 1 + length + 1;
    return true;
  }

  encodedLength(message: Reply): number {
    const size = typeof message === 'string' ? Buffer.byteLength(message) : message.length;
    return decimalDigits(size) + size + 2;
  }

  encodeInto(message: Reply, out: Buffer, offset: number): number {
    const payload = typeof message === 'string' ? Buffer.from(message) : message;
    const digits = decimalDigits(payload.length);
    for (let n = payload.length, i = offset + digits - 1; i >= offset; i--, n = Math.floor(n / 10)) out[i] = ZERO + (n % 10);
    offset += digits;
    out[offset++] = COLON;
    out.set(payload, offset);
    offset += payload.length;
    out[offset] = COMMA;
    return offset + 1;
  }

}

function decimalDigits(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

function describe(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
