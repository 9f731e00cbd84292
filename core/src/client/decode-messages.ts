import type { Cumulator } from '../net/cumulator.js';
import type { Protocol } from '../net/protocol.js';

/**
 * What a client does with one read: decode every message `chunk` completes after the bytes
 * `pending` holds, each to `each` in order, and keep the rest in `pending`. Throws what the
 * decoder throws (a ProtocolError for a malformed message).
 */
export function decodeMessages<M>(protocol: Protocol<M, unknown>, pending: Cumulator, chunk: Buffer, each: (message: M) => void): void {
  let data = pending.append(chunk);
  if (data === undefined) return; // a length-prefixed message is still arriving
  if (protocol.decodeAt) {
    let start = 0;
    for (;;) {
      const message = protocol.decodeAt(data, start);
      if (message === undefined) {
        // Input consumed without a message (a handshake's answer, a ping): go on after it.
        if (protocol.next! > start) {
          start = protocol.next!;
          continue;
        }
        break;
      }
      start = protocol.next!;
      each(message);
    }
    // The next read's data begins at 0: a `next` left from this one must not look like progress.
    if (start > 0) (protocol as { next: number }).next = 0;
    pending.keep(data.subarray(start), protocol.expected);
  } else {
    for (;;) {
      const [message, rest] = protocol.decode(data);
      data = rest;
      if (message === undefined) break;
      each(message);
    }
    pending.keep(data, protocol.expected);
  }
}
