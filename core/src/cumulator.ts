/**
 * The unconsumed bytes of one connection, kept so that appending a read costs
 * the size of the read (amortised) whatever is already pending — a 64 MiB message
 * in 64 KiB reads is copied about twice, never re-concatenated per read.
 *
 * Messages a decoder returns are views into the data it was given, and a handler may
 * hold them after the read (async handlers), so storage is never written below `end`:
 * new bytes go after it, and growing moves the pending bytes into fresh storage.
 */
const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 4096;

export class Cumulator {
  /** Owned storage (never from the shared pool, so `buffer` identity is ours alone). */
  private store = EMPTY;
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** The pending bytes followed by `chunk`, as one view. Without pending bytes, `chunk` itself. */
  append(chunk: Buffer): Buffer {
    if (this.end === this.start) return chunk;
    if (this.end + chunk.length > this.store.length) this.grow(this.end - this.start + chunk.length);
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
    return this.store.subarray(this.start, this.end);
  }

  /** Record what the decoder left unconsumed. */
  keep(rest: Buffer): void {
    if (rest.length === 0) {
      this.store = EMPTY; // release storage; views handed out keep what they need alive
      this.start = this.end = 0;
    } else if (rest.buffer === this.store.buffer && rest.byteOffset + rest.length === this.store.byteOffset + this.end) {
      this.start = this.end - rest.length; // a tail of our own storage: nothing to copy
    } else {
      // Bytes from elsewhere (the read buffer itself, or a decoder's own buffer): own a copy.
      this.store = Buffer.allocUnsafeSlow(Math.max(rest.length * 2, MIN_CAPACITY));
      rest.copy(this.store);
      this.start = 0;
      this.end = rest.length;
    }
  }

  private grow(needed: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(needed * 2, MIN_CAPACITY));
    this.store.copy(next, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    this.store = next;
  }
}
