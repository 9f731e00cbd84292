/**
 * The unconsumed bytes of one connection, kept so that each read costs about its own
 * size, whatever is already pending — a 64 MiB message in 64 KiB reads must not be
 * re-concatenated or re-scanned per read.
 *
 * They live in an owned buffer grown by doubling, new reads copied after the pending
 * bytes (each byte copied about twice in all). When the decoder knows how many bytes
 * the next message needs (`Protocol.expected`, e.g. a netstring's frame size), reads are
 * only appended, without decoding, until that many have arrived, and the buffer never
 * grows past that size: memory is at most twice what the client actually sent, never
 * what its header claims, and never a buffer object per read.
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
  /** Bytes the pending message needs in all, when the decoder said; else 0. */
  private wanted = 0;

  /** `cap`: storage grows past it only as far as the bytes pending need (max_client_memory refuses them beyond). */
  constructor(private readonly cap = Infinity) {}

  get length(): number {
    return this.end - this.start;
  }

  /** Bytes of storage held. */
  get capacity(): number {
    return this.store.length;
  }

  /**
   * The pending bytes followed by `chunk`, as one view; `chunk` itself when nothing is
   * pending; undefined while fewer bytes than the decoder said it needs have arrived.
   */
  append(chunk: Buffer): Buffer | undefined {
    const pending = this.end - this.start;
    if (pending === 0) return chunk;
    const needed = pending + chunk.length;
    if (this.end + chunk.length > this.store.length) this.grow(needed);
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
    if (needed < this.wanted) return undefined;
    this.wanted = 0;
    return this.store.subarray(this.start, this.end);
  }

  /** The pending bytes, as one view (to decode them again without a new read). */
  view(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  /** Record what the decoder left unconsumed, and how many bytes it needs in all, if it knows. */
  keep(rest: Buffer, expected = 0): void {
    if (rest.length === 0) {
      this.store = EMPTY; // release storage; views handed out keep what they need alive
      this.start = this.end = this.wanted = 0;
      return;
    }
    this.wanted = expected > rest.length ? expected : 0;
    if (rest.buffer === this.store.buffer && rest.byteOffset + rest.length === this.store.byteOffset + this.end) {
      this.start = this.end - rest.length; // a tail of our own storage: nothing to copy
    } else {
      // Bytes from elsewhere (the read buffer itself, or a decoder's own buffer): own a copy.
      this.store = Buffer.allocUnsafeSlow(this.capacityFor(rest.length));
      rest.copy(this.store);
      this.start = 0;
      this.end = rest.length;
    }
  }

  /** Room for `needed` bytes and as many again, but never more than the announced message needs. */
  private capacityFor(needed: number): number {
    const doubled = Math.min(Math.max(needed * 2, MIN_CAPACITY), Math.max(needed, this.cap));
    const wanted = this.wanted;
    if (wanted === 0) return doubled;
    return needed >= wanted ? needed : Math.min(doubled, wanted);
  }

  private grow(needed: number): void {
    const next = Buffer.allocUnsafeSlow(this.capacityFor(needed));
    this.store.copy(next, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    this.store = next;
  }
}
