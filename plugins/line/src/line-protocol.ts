import { ProtocolError, type Protocol } from '@socketserver/core';

const NL = 0x0a;
const CR = 0x0d;

/**
 * Messages are the bytes up to `\n`; a trailing `\r` is stripped. Replies get `\n`.
 *
 * Malformed input: a line longer than `maxLine` bytes (not counting `\r\n`) is a
 * `ProtocolError`, raised as soon as the pending bytes prove it, without waiting for
 * the newline. Bytes already scanned for `\n` are not scanned again.
 */
export class LineProtocol implements Protocol<Buffer, Buffer | Uint8Array | string> {
  /** How far the pending data has been searched for a newline. */
  private scanned = 0;

  constructor(readonly maxLine: number) {}

  decode(data: Buffer): [Buffer | undefined, Buffer] {
    const nl = data.indexOf(NL, this.scanned);
    if (nl === -1) {
      // One byte of slack: it may be the `\r` of a line of exactly maxLine bytes.
      if (data.length > this.maxLine + 1) this.tooLong();
      this.scanned = data.length;
      return [undefined, data];
    }
    this.scanned = 0;
    const end = nl > 0 && data[nl - 1] === CR ? nl - 1 : nl;
    if (end > this.maxLine) this.tooLong();
    return [data.subarray(0, end), data.subarray(nl + 1)];
  }

  encode(message: Buffer | Uint8Array | string): Buffer {
    if (typeof message === 'string') return Buffer.from(`${message}\n`);
    const out = Buffer.allocUnsafe(message.length + 1);
    out.set(message, 0);
    out[message.length] = NL;
    return out;
  }

  private tooLong(): never {
    throw new ProtocolError(`line longer than ${this.maxLine} bytes (--max-line)`);
  }
}
