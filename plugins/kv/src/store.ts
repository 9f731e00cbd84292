import { AS, WRONGTYPE } from './command.js';

/** What to do when `maxmemory` is reached (Redis's maxmemory-policy, the LRU ones). */
export type Policy = 'noeviction' | 'allkeys-lru' | 'volatile-lru';
export const POLICIES: readonly Policy[] = ['noeviction', 'allkeys-lru', 'volatile-lru'];

/** Most keys a store holds: a JS Map throws past 2^24 (16,777,216) entries. */
export const MAX_KEYS = 16_000_000;

/**
 * Bytes a key costs beyond its name and value, as measured on V8 (64-bit): the Map's slot and
 * its share of the table, the key's string header, the entry and the Buffer object.
 */
export const KEY_OVERHEAD = 200;
/** Bytes an expiry costs: a slot in the expires Map. */
export const EXPIRE_OVERHEAD = 60;

/** Keys looked at per eviction (Redis's maxmemory-samples) and the best candidates kept between evictions. */
const SAMPLES = 5;
const POOL_SIZE = 16;
/** Keys with an expiry looked at per loop of the expire cycle, and the share expired under which it stops (Redis's 20 and 10%). */
const KEYS_PER_LOOP = 20;
const ACCEPTABLE_STALE = 0.1;
/** Each cycle looks at no fewer than this fraction of the keys with an expiry: a full pass every 50 cycles at least. */
const FULL_PASS_CYCLES = 50;

/**
 * A value of another type than string (a list, set, hash, sorted set or stream), held by its
 * commands' family file: the store knows only its type (for TYPE and WRONGTYPE) and its
 * estimated size, which those commands keep up to date (`Store.resized`).
 */
export interface Collection {
  readonly type: 'list' | 'set' | 'hash' | 'zset' | 'stream';
  /** Estimated bytes it holds beyond the key's overhead. */
  bytes: number;
}

export type Value = Buffer | Collection;

/**
 * Where the store's changes go while replicas listen (replication.ts): each command as it
 * propagates, and a DEL for each key deleted by expiry or eviction.
 */
export interface ChangeFeed {
  /** Command calls under way (execute() counts them): what is fed meanwhile goes out when the outermost ends (`flush`). */
  depth: number;
  feed(command: Buffer[]): void;
  flush(): void;
}

/** A connection's WATCH (transactions.ts): the keys it watches, and whether its transaction is to fail. */
export interface Watcher {
  /** A watched key changed: EXEC answers nil (Redis's CLIENT_DIRTY_CAS). */
  dirty: boolean;
  /** Each key watched, and whether it was already expired (in the store, past its time) when watched. */
  readonly keys: Map<string, boolean>;
}

/** Estimated bytes of a value. */
export const bytesOf = (value: Value): number => (value instanceof Buffer ? value.length : (value as Collection).bytes);

/** Redis's TYPE of a value. */
export const typeOf = (value: Value): string => (value instanceof Buffer ? 'string' : (value as Collection).type);

/**
 * A value, when it was last used (the store's access counter: an LRU clock that costs no clock
 * read) and its place in the list eviction samples from (-1 when the store does not evict).
 */
export class Entry {
  constructor(public value: Value, public lru: number, public index: number) {}
}

export interface StoreOptions {
  /** Bytes (estimated) the store may hold; 0: no limit. */
  readonly maxmemory?: number;
  readonly policy?: Policy;
  /** Most keys (default MAX_KEYS). */
  readonly maxKeys?: number;
}

interface Candidate {
  readonly key: string;
  readonly lru: number;
}

/**
 * The key space of one process: binary-safe keys (latin1 strings, one char per byte) to Buffers,
 * with expiry, its memory estimated as it changes (key + value + overhead per key) and bounded
 * by `maxmemory` and `maxKeys`.
 */
export class Store {
  readonly data = new Map<string, Entry>();
  /** Key → absolute expiry time in ms (Date.now()); only keys that have one. */
  readonly expires = new Map<string, number>();
  /** Estimated bytes held: kept as keys come and go, never counted by walking the store. */
  used = 0;
  maxmemory: number;
  policy: Policy;
  readonly maxKeys: number;
  evictedKeys = 0;
  expiredKeys = 0;
  /**
   * Where keyspace events go (Redis's notify-keyspace-events), when something listens: `type` is
   * the event's class letter ('g' generic, '$' string, 'l' list, 's' set, 'h' hash, 'z' sorted
   * set, 'x' expired, 'e' evicted, 'n' new), `event` its name ('set', 'del', 'expire'…). Commands
   * call `notify` after a change; the store itself for new, expired and evicted keys.
   */
  onEvent: ((type: string, event: string, key: string) => void) | undefined = undefined;
  /**
   * Changes made by commands (Redis's server.dirty), counted by `notify` and `clear`: a command
   * that made one is propagated to replicas (commands.ts).
   */
  dirty = 0;
  /** Set while replicas listen: commands then say in `propagateAs` when they propagate otherwise than as sent. */
  replicas: ChangeFeed | undefined = undefined;
  /**
   * What the running command propagates instead of its own arguments (Redis's rewriting of a
   * command for replicas: SET … EX as SET … PXAT, GETDEL as DEL…), set only while replicating;
   * an empty list propagates nothing.
   */
  propagateAs: Buffer[][] | undefined = undefined;
  /** The connections WATCHing each key: a change to it (`notify`, `clear`) fails their transactions. */
  readonly watched = new Map<string, Set<Watcher>>();
  private clock = 0;
  private expireIter: IterableIterator<[string, number]> | undefined;
  private sampleIter: IterableIterator<string> | undefined;
  private pool: Candidate[] = [];
  /** Every key, in no order, for sampling at random (as Redis's dictGetRandomKey); only with an LRU policy. */
  private list: string[] | undefined;

  constructor(opts: StoreOptions = {}) {
    this.maxmemory = opts.maxmemory ?? 0;
    this.policy = opts.policy ?? 'noeviction';
    this.maxKeys = opts.maxKeys ?? MAX_KEYS;
    this.list = this.policy === 'noeviction' ? undefined : [];
  }

  /**
   * The string value, unless missing or expired (an expired key is deleted here: lazy expiry).
   * A key of another type throws WRONGTYPE, which the command's caller answers.
   */
  get(key: string, now?: number): Buffer | undefined {
    const entry = this.lookup(key, now);
    if (entry === undefined) return undefined;
    if (entry.value instanceof Buffer) return entry.value;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the reply itself: execute() answers it
    throw WRONGTYPE;
  }

  /** The entry of any type, unless missing or expired (deleted then); counts as a use for LRU. */
  lookup(key: string, now?: number): Entry | undefined {
    const entry = this.data.get(key);
    if (entry === undefined) return undefined;
    if (this.expires.size !== 0) { // no key has an expiry: nothing to check
      const at = this.expires.get(key);
      if (at !== undefined && at <= (now ?? Date.now())) {
        this.expired(key);
        return undefined;
      }
    }
    entry.lru = ++this.clock;
    return entry;
  }

  has(key: string): boolean {
    return this.lookup(key) !== undefined;
  }

  /** Set a value (of any type: it replaces the old one); `expireAt` undefined clears any expiry, 'keep' keeps it. */
  set(key: string, value: Value, expireAt?: number | 'keep'): void {
    const entry = this.data.get(key);
    if (entry === undefined) {
      let index = -1;
      if (this.list !== undefined) index = this.list.push(key) - 1;
      this.data.set(key, new Entry(value, ++this.clock, index));
      this.used += key.length + bytesOf(value) + KEY_OVERHEAD;
      if (this.onEvent !== undefined) this.onEvent('n', 'new', key); // Redis's dbAdd
    } else {
      this.used += bytesOf(value) - bytesOf(entry.value);
      entry.value = value;
      entry.lru = ++this.clock;
    }
    if (expireAt === 'keep') return;
    if (expireAt !== undefined) {
      const before = this.expires.size;
      this.expires.set(key, expireAt);
      if (this.expires.size !== before) this.used += EXPIRE_OVERHEAD;
    } else if (this.expires.size !== 0 && this.expires.delete(key)) {
      this.used -= EXPIRE_OVERHEAD;
    }
  }

  delete(key: string): boolean {
    const entry = this.data.get(key);
    if (entry === undefined) return false;
    this.data.delete(key);
    this.used -= key.length + bytesOf(entry.value) + KEY_OVERHEAD;
    if (this.list !== undefined) { // the last key takes its place
      const last = this.list.pop()!;
      if (last !== key) {
        this.list[entry.index] = last;
        this.data.get(last)!.index = entry.index;
      }
    }
    if (this.expires.size !== 0 && this.expires.delete(key)) this.used -= EXPIRE_OVERHEAD;
    return true;
  }

  /** A command changed `key` (its keyspace event, see `onEvent`); expiry and eviction are not a command's change. */
  notify(type: string, event: string, key: string): void {
    if (type !== 'x' && type !== 'e') this.dirty++;
    if (this.watched.size !== 0) this.touch(key);
    if (this.onEvent !== undefined) this.onEvent(type, event, key);
  }

  /**
   * A key changed: the transactions watching it fail, as Redis's touchWatchedKey, but for a key
   * already expired when watched whose deletion changes nothing that was seen.
   */
  private touch(key: string): void {
    const watchers = this.watched.get(key);
    if (watchers === undefined) return;
    for (const w of watchers) {
      if (w.keys.get(key) === true && !this.data.has(key)) w.keys.set(key, false);
      else this.fail(w);
    }
  }

  /** A watcher's transaction is to fail: it watches nothing more (a later change cannot matter). */
  private fail(w: Watcher): void {
    w.dirty = true;
    this.unwatch(w);
  }

  /** WATCH: `w` watches `key` from now on (once). */
  watch(w: Watcher, key: string): void {
    if (w.keys.has(key)) return;
    const at = this.expires.size !== 0 ? this.expires.get(key) : undefined;
    w.keys.set(key, at !== undefined && at <= Date.now());
    let watchers = this.watched.get(key);
    if (watchers === undefined) this.watched.set(key, watchers = new Set());
    watchers.add(w);
  }

  /** UNWATCH, EXEC, DISCARD, RESET, a connection's close: `w` watches nothing. */
  unwatch(w: Watcher): void {
    for (const key of w.keys.keys()) {
      const watchers = this.watched.get(key);
      if (watchers !== undefined && watchers.delete(w) && watchers.size === 0) this.watched.delete(key);
    }
    w.keys.clear();
  }

  /** At EXEC: a key watched live that has expired since fails the transaction too (Redis's isWatchedKeyExpired). */
  watchedExpired(w: Watcher): boolean {
    if (this.expires.size === 0) return false;
    const now = Date.now();
    for (const [key, wasExpired] of w.keys) {
      const at = this.expires.get(key);
      if (!wasExpired && at !== undefined && at <= now) return true;
    }
    return false;
  }

  /** A key deleted by expiry or eviction: told, and a DEL for replicas (before the command that found it, as Redis). */
  private dropped(type: 'x' | 'e', event: string, key: string): void {
    if (this.replicas !== undefined) this.replicas.feed([AS.DEL, Buffer.from(key, 'latin1')]);
    this.notify(type, event, key);
  }

  /** A collection changed size in place by `delta` bytes (its `bytes` already updated). */
  resized(delta: number): void {
    this.used += delta;
  }

  clear(): void {
    this.dirty++; // FLUSHALL propagates even when there was nothing to flush
    // Every watched key that held something changes (one already expired when watched: nothing seen changes).
    for (const [key, watchers] of this.watched) {
      if (!this.data.has(key)) continue;
      for (const w of watchers) {
        if (w.keys.get(key) === true) w.keys.set(key, false);
        else this.fail(w);
      }
    }
    this.data.clear();
    this.expires.clear();
    this.used = 0;
    this.expireIter = undefined;
    this.sampleIter = undefined;
    this.pool = [];
    if (this.list !== undefined) this.list.length = 0;
  }

  /** Every live key matching `match` (all when undefined), as Buffers: one pass, no copy of the key set. */
  keys(match?: (key: string) => boolean): Buffer[] {
    const out: Buffer[] = [];
    const now = this.expires.size !== 0 ? Date.now() : 0;
    for (const key of this.data.keys()) {
      if (now !== 0) {
        const at = this.expires.get(key);
        if (at !== undefined && at <= now) {
          this.expired(key); // deleting the current key does not disturb a Map's iteration
          continue;
        }
      }
      if (match === undefined || match(key)) out.push(Buffer.from(key, 'latin1'));
    }
    return out;
  }

  /** A key found expired: deleted, counted and told. */
  private expired(key: string): void {
    this.delete(key);
    this.expiredKeys++;
    this.dropped('x', 'expired', key);
  }

  /** Whether a command adding up to `adding` keys must first make room (over maxmemory, or at the key ceiling). */
  full(adding: number): boolean {
    return (this.maxmemory !== 0 && this.used > this.maxmemory) || this.data.size + adding > this.maxKeys;
  }

  /**
   * Make room for a command adding up to `adding` keys, evicting by the policy (Redis's
   * performEvictions); false when there is still no room: the command gets -OOM.
   */
  makeRoom(adding: number): boolean {
    while (this.full(adding)) {
      if (this.policy === 'noeviction' || !this.evictOne()) return false;
    }
    return true;
  }

  /**
   * Evict one key by sampled LRU, as Redis does: a few keys drawn at random (for volatile-lru,
   * keys with an expiry; when random draws find few, the next ones on a cursor over them) go
   * into a pool of the least recently used seen so far; the best of the pool still unchanged
   * since it was sampled is evicted.
   */
  private evictOne(): boolean {
    const volatile = this.policy === 'volatile-lru';
    const list = this.list!;
    for (let round = 0; round < 8; round++) {
      if (volatile ? this.expires.size === 0 : list.length === 0) return false;
      let found = 0;
      for (let draw = 0; draw < SAMPLES * 4 && found < SAMPLES; draw++) {
        const key = list[Math.floor(Math.random() * list.length)]!;
        if (volatile && !this.expires.has(key)) continue;
        this.consider(key, this.data.get(key)!.lru);
        found++;
      }
      for (; found < SAMPLES; found++) { // volatile-lru, few keys with an expiry: walk them
        const key = this.nextSample(this.expires);
        if (key === undefined) break;
        this.consider(key, this.data.get(key)!.lru);
      }
      while (this.pool.length > 0) {
        const best = this.pool.shift()!;
        const entry = this.data.get(best.key);
        if (entry !== undefined && entry.lru === best.lru && (!volatile || this.expires.has(best.key))) {
          this.delete(best.key);
          this.evictedKeys++;
          this.dropped('e', 'evicted', best.key);
          return true;
        }
      }
    }
    return false;
  }

  private nextSample(source: Map<string, unknown>): string | undefined {
    for (let restarts = 0; restarts < 2; restarts++) {
      this.sampleIter ??= source.keys();
      const next = this.sampleIter.next();
      if (!next.done) return next.value;
      this.sampleIter = undefined;
    }
    return undefined;
  }

  /** Put a sampled key into the pool, kept sorted from least recently used, at most POOL_SIZE long. */
  private consider(key: string, lru: number): void {
    const pool = this.pool;
    if (pool.length === POOL_SIZE && lru >= pool[POOL_SIZE - 1]!.lru) return;
    let at = pool.length;
    for (let i = 0; i < pool.length; i++) {
      if (pool[i]!.key === key) return;
      if (at === pool.length && lru < pool[i]!.lru) at = i;
    }
    pool.splice(at, 0, { key, lru });
    if (pool.length > POOL_SIZE) pool.pop();
  }

  /**
   * Redis's active expire cycle: look at the keys with an expiry in loops of 20 (continuing on a
   * cursor where the last cycle stopped), delete the expired ones, and go on while more than 10%
   * of a loop was expired, or until this cycle has looked at 1/50 of them, within `budgetMs` of
   * CPU time. Dead keys nobody reads are removed about as fast as they appear. Returns how many.
   */
  activeExpireCycle(now = Date.now(), budgetMs = 25): number {
    if (this.expires.size === 0) return 0;
    const start = performance.now();
    const least = Math.ceil(this.expires.size / FULL_PASS_CYCLES);
    let looked = 0;
    let expired = 0;
    for (;;) {
      let sampled = 0;
      let dead = 0;
      for (let restarted = false; sampled < KEYS_PER_LOOP;) {
        this.expireIter ??= this.expires.entries();
        const next = this.expireIter.next();
        if (next.done) { // the end: start again from the first, once, unless this loop has keys already
          this.expireIter = undefined;
          if (restarted || sampled > 0) break;
          restarted = true;
          continue;
        }
        sampled++;
        if (next.value[1] <= now) {
          this.delete(next.value[0]);
          this.dropped('x', 'expired', next.value[0]);
          dead++;
        }
      }
      looked += sampled;
      expired += dead;
      if (sampled === 0) break;
      if (dead <= sampled * ACCEPTABLE_STALE && looked >= least) break;
      if (performance.now() - start > budgetMs) break;
    }
    this.expiredKeys += expired;
    return expired;
  }

  /**
   * CONFIG SET maxmemory / maxmemory-policy (server family): the new limit and policy, keys
   * evicted at once when over it. Turning an LRU policy on lists the keys to sample from.
   */
  reconfigure(maxmemory: number, policy: Policy): void {
    this.maxmemory = maxmemory;
    this.policy = policy;
    if (policy !== 'noeviction' && this.list === undefined) {
      const list: string[] = [];
      for (const [key, entry] of this.data) entry.index = list.push(key) - 1;
      this.list = list;
    }
    this.makeRoom(0);
  }
}

/** One `T` per store (one store per process), made on first use: what its commands share beyond the keys (configuration, replicas). */
export function perStore<T>(make: (store: Store) => T): (store: Store) => T {
  const made = new WeakMap<Store, T>();
  return (store) => {
    let value = made.get(store);
    if (value === undefined) {
      value = make(store);
      made.set(store, value);
    }
    return value;
  };
}
