/**
 * The unconsumed bytes of one connection, kept so that each read costs about its own
 * size, whatever is already pending — a 64 MiB message in 64 KiB reads must not be
 * re-concatenated or re-scanned per read.
 *
 * Two ways to keep them:
 * - The decoder knows how many bytes the next message needs (`Protocol.expected`, e.g.
 *   a netstring's frame size): reads are held as they are and joined once, into a
 *   buffer of the final size, when enough has arrived. Nothing is decoded meanwhile.
 *   Memory is what the client actually sent, never what its header claims.
 * - Otherwise: an owned buffer grown by doubling, new reads copied after the pending
 *   bytes (each byte copied about twice in all).
 *
 * Messages a decoder returns are views into the data it was given, and a handler may
 * hold them after the read (async handlers), so owned storage is never written below
 * `end`: new bytes go after it, and growing moves the pending bytes to fresh storage.
 */
const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 4096;

export class Cumulator {
  /** Owned storage (never from the shared pool, so `buffer` identity is ours alone). */
  private store = EMPTY;
  private start = 0;
  private end = 0;
  /** Held reads while waiting for `wanted` bytes. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private wanted = 0;

  get length(): number {
    return this.held !== null ? this.heldBytes : this.end - this.start;
  }

  /**
   * The pending bytes followed by `chunk`, as one view; `chunk` itself when nothing is
   * pending; undefined while fewer bytes than the decoder said it needs have arrived.
   */
  append(chunk: Buffer): Buffer | undefined {
    const held = this.held;
    if (held !== null) {
      held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes < this.wanted) return undefined;
      const joined = Buffer.concat(held, this.heldBytes);
      this.held = null;
      this.heldBytes = this.wanted = 0;
      return joined;
    }
    if (this.end === this.start) return chunk;
    if (this.end + chunk.length > this.store.length) this.grow(this.end - this.start + chunk.length);
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
    return this.store.subarray(this.start, this.end);
  }

  /** Record what the decoder left unconsumed, and how many bytes it needs in all, if it knows. */
  keep(rest: Buffer, expected = 0): void {
    if (rest.length === 0) {
      this.store = EMPTY; // release storage; views handed out keep what they need alive
      this.start = this.end = 0;
    } else if (expected > rest.length) {
      this.held = [rest];
      this.heldBytes = rest.length;
      this.wanted = expected;
      this.store = EMPTY;
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
