/** The key space of one process: binary-safe keys (latin1 strings, one char per byte) to Buffers, with expiry. */
export class Store {
  readonly data = new Map<string, Buffer>();
  /** Key → absolute expiry time in ms (Date.now()); only keys that have one. */
  readonly expires = new Map<string, number>();
  private sweepIter: IterableIterator<[string, number]> | undefined;

  /** The value, unless missing or expired (an expired key is deleted here: lazy expiry). */
  get(key: string, now?: number): Buffer | undefined {
    if (this.expires.size === 0) return this.data.get(key); // no key has an expiry: nothing to check
    const at = this.expires.get(key);
    if (at !== undefined && at <= (now ?? Date.now())) {
      this.delete(key);
      return undefined;
    }
    return this.data.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Set a value; `expireAt` undefined clears any expiry, 'keep' keeps it. */
  set(key: string, value: Buffer, expireAt?: number | 'keep'): void {
    this.data.set(key, value);
    if (expireAt === 'keep') return;
    if (expireAt !== undefined) this.expires.set(key, expireAt);
    else if (this.expires.size !== 0) this.expires.delete(key);
  }

  delete(key: string): boolean {
    this.expires.delete(key);
    return this.data.delete(key);
  }

  clear(): void {
    this.data.clear();
    this.expires.clear();
    this.sweepIter = undefined;
  }

  /** Every live key. */
  keys(): string[] {
    const now = Date.now();
    const out: string[] = [];
    for (const key of [...this.data.keys()]) if (this.get(key, now) !== undefined) out.push(key);
    return out;
  }

  /** Drop expired keys, looking at no more than `budget` keys with an expiry (continues where it stopped). */
  sweep(budget = 1000): void {
    const now = Date.now();
    for (let i = 0; i < budget; i++) {
      this.sweepIter ??= this.expires.entries();
      const next = this.sweepIter.next();
      if (next.done) {
        this.sweepIter = undefined;
        return;
      }
      const [key, at] = next.value;
      if (at <= now) this.delete(key);
    }
  }
}
