import { CursorProtocol, ProtocolError } from '@socketserver/core';

const NL = 0x0a;
const CR = 0x0d;

type Reply = Buffer | Uint8Array | string;

/**
 * Messages are the bytes up to `\n`; a trailing `\r` is stripped. Replies get `\n`.
 *
 * Malformed input: a line longer than `maxLine` bytes (not counting `\r\n`) is a
 * `ProtocolError`, raised as soon as the pending bytes prove it, without waiting for
 * the newline. Bytes already searched for `\n` are not searched again.
 */
export class LineProtocol extends CursorProtocol<Buffer, Reply> {
  /** How much of the pending line has been searched for a newline. */
  private scanned = 0;

  constructor(readonly maxLine: number) {
    super();
  }

  decodeAt(data: Buffer, start: number): Buffer | undefined {
    const nl = data.indexOf(NL, start + this.scanned);
    if (nl === -1) {
      const pending = data.length - start;
      // One byte of slack: it may be the `\r` of a line of exactly maxLine bytes.
      if (pending > this.maxLine + 1) this.tooLong();
      this.scanned = pending;
      return undefined;
    }
    this.scanned = 0;
    const end = nl > start && data[nl - 1] === CR ? nl - 1 : nl;
    if (end - start > this.maxLine) this.tooLong();
    this.next = nl + 1;
    return data.subarray(start, end);
  }

  encodedLength(message: Reply): number {
    return (typeof message === 'string' ? Buffer.byteLength(message) : message.length) + 1;
  }

  encodeInto(message: Reply, out: Buffer, offset: number): number {
    if (typeof message === 'string') offset += out.write(message, offset);
    else {
      out.set(message, offset);
      offset += message.length;
    }
    out[offset] = NL;
    return offset + 1;
  }

  private tooLong(): never {
    throw new ProtocolError(`line longer than ${this.maxLine} bytes (--max-line)`);
  }
}
