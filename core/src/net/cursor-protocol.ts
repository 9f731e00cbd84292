import type { Protocol } from './protocol.js';

/**
 * Base for a protocol written in the fast, cursor form: implement `decodeAt` (setting
 * `next`), `encodedLength` and `encodeInto`, and `decode` and `encode` follow from them.
 */
export abstract class CursorProtocol<M = Buffer, R = M> implements Protocol<M, R> {
  /** Where the message after the last one decoded begins. */
  next = 0;

  abstract decodeAt(data: Buffer, start: number): M | undefined;
  abstract encodedLength(message: R): number;
  abstract encodeInto(message: R, out: Buffer, offset: number): number;

  decode(data: Buffer): [M | undefined, Buffer] {
    let start = 0;
    this.next = 0;
    for (;;) {
      const message = this.decodeAt(data, start);
      if (message !== undefined) return [message, data.subarray(this.next)];
      if (!(this.next > start)) return [undefined, start === 0 ? data : data.subarray(start)];
      start = this.next; // input consumed without a message
    }
  }

  encode(message: R): Buffer {
    const out = Buffer.allocUnsafe(this.encodedLength(message));
    this.encodeInto(message, out, 0);
    return out;
  }
}
