import { ProtocolError, type Protocol } from '@socketserver/core';

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * D. J. Bernstein's netstrings: `<length>:<bytes>,` (`5:hello,`; `0:,` is empty).
 *
 * Malformed input, each a `ProtocolError` raised as soon as it is seen:
 * - a byte other than a digit before the `:` (so `-1:` and `abc` fail at the first byte);
 * - a leading zero (`05:hello,`); an empty length (`:`);
 * - a length over `maxLength`, detected while the digits arrive, before the `:`;
 * - anything but `,` after the payload.
 * The length prefix is parsed once; while the payload arrives only its size is compared.
 */
export class NetstringProtocol implements Protocol<Buffer, Buffer | Uint8Array | string> {
  /** Digits of the length prefix parsed so far, and their value. */
  private digits = 0;
  private length = 0;
  /** Size of the whole frame once its prefix is complete, else 0. */
  private frame = 0;

  constructor(readonly maxLength: number) {}

  /** Bytes the pending frame needs in all, once its prefix is parsed (lets the framework join reads once). */
  get expected(): number {
    return this.frame;
  }

  decode(data: Buffer): [Buffer | undefined, Buffer] {
    if (this.frame === 0 && !this.parsePrefix(data)) return [undefined, data];
    const frame = this.frame;
    if (data.length < frame) return [undefined, data];
    if (data[frame - 1] !== COMMA) throw new ProtocolError(`netstring: expected "," after ${this.length} bytes of payload`);
    const message = data.subarray(this.digits + 1, frame - 1);
    this.frame = this.digits = this.length = 0;
    return [message, data.subarray(frame)];
  }

  /** Scan the length digits not yet seen; true once the `:` is found. */
  private parsePrefix(data: Buffer): boolean {
    let i = this.digits;
    let length = this.length;
    for (; i < data.length; i++) {
      const c = data[i]!;
      if (c === COLON) break;
      if (c < ZERO || c > NINE) {
        throw new ProtocolError(`netstring: ${i === 0 ? 'expected a length' : 'expected a digit or ":"'}, got ${describe(c)}`);
      }
      if (i === 1 && data[0] === ZERO) throw new ProtocolError('netstring: length has a leading zero');
      length = length * 10 + (c - ZERO);
      if (length > this.maxLength) throw new ProtocolError(`netstring: length over ${this.maxLength} bytes (--max-netstring)`);
    }
    this.digits = i;
    this.length = length;
    if (i === data.length) return false;
    if (i === 0) throw new ProtocolError('netstring: expected a length, got ":"');
    this.frame = i + 1 + length + 1;
    return true;
  }

  encode(message: Buffer | Uint8Array | string): Buffer {
    const payload = typeof message === 'string' ? Buffer.from(message) : message;
    const prefix = `${payload.length}:`;
    const out = Buffer.allocUnsafe(prefix.length + payload.length + 1);
    out.write(prefix, 0, 'latin1');
    out.set(payload, prefix.length);
    out[out.length - 1] = COMMA;
    return out;
  }
}

function describe(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
