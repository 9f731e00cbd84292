import { Pushed, type Connection } from './connection.js';
import { compileGlob } from './glob.js';

/**
 * How a subscriber's protocol frames a message published on a channel (RESP's `message` and
 * `pmessage` arrays); without one, the message itself is pushed. Called once per publish for
 * each framer in use, not once per subscriber: the bytes are encoded once and written to all.
 */
export type Framer = (message: unknown, channel: Buffer, pattern: Buffer | undefined) => unknown;

/** Told of a change of interest; names are keys (latin1, one char a byte). */
export type InterestWatcher = (kind: 'channel' | 'pattern', key: string, on: boolean) => void;

/** Subscribers of one channel or pattern, each with its framer. */
type Subscribers = Map<Connection, Framer | undefined>;

interface PatternEntry {
  readonly pattern: Buffer;
  readonly matches: (channel: string) => boolean;
  readonly subscribers: Subscribers;
}

/** What one connection holds: its channels and patterns (as keys, see `key`). */
interface Held {
  readonly channels: Set<string>;
  readonly patterns: Set<string>;
}

/** The figures of `ss info`, `ss top` and /metrics. */
export interface PubSubStats {
  /** Channels with at least one subscriber, and patterns with at least one. */
  readonly channels: number;
  readonly patterns: number;
  /** Connections holding at least one subscription. */
  readonly subscribers: number;
  /** Publishes made here, messages pushed to subscribers here, and pushes that could not be sent. */
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
}

/**
 * A channel or pattern as a map key: its bytes as latin1, one char per byte, so binary names
 * (RESP's) are kept exactly and the glob matcher reads them as Redis does.
 */
function key(name: string | Uint8Array): string {
  return typeof name === 'string' ? Buffer.from(name).toString('latin1') : Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

/**
 * Channels of one server in one process (docs/design.md §15): who is subscribed to what,
 * and publishing to them. A message is framed and encoded once per framer in use and the same
 * bytes pushed to every subscriber (`Connection.sendPushed`); a subscriber that does not
 * read is closed as a slow consumer by its connection, never waited for.
 */
export class Channels {
  private readonly watchers: InterestWatcher[] = [];
  private readonly exact = new Map<string, Subscribers>();
  private readonly patterns = new Map<string, PatternEntry>();
  private readonly held = new Map<Connection, Held>();
  private published = 0;
  private delivered = 0;
  private dropped = 0;

  /**
   * Tell `watcher` when this process gains its first subscriber of a channel or pattern (`on`)
   * or loses its last: a worker tells the arbiter, which relays publishes only where there is
   * interest, and the Redis bridge subscribes there only to what has subscribers here.
   */
  watchInterest(watcher: InterestWatcher): void {
    this.watchers.push(watcher);
  }

  /** Subscribe `connection` to `channel`; false if it already was. */
  subscribe(connection: Connection, channel: string | Uint8Array, framer?: Framer): boolean {
    const k = key(channel);
    const held = this.holder(connection);
    if (held.channels.has(k)) return false;
    held.channels.add(k);
    let subscribers = this.exact.get(k);
    if (subscribers === undefined) {
      this.exact.set(k, (subscribers = new Map<Connection, Framer | undefined>()));
      this.interestChanged('channel', k, true);
    }
    subscribers.set(connection, framer);
    connection.subscriptions++;
    return true;
  }

  /** Unsubscribe `connection` from `channel`; false if it was not subscribed. */
  unsubscribe(connection: Connection, channel: string | Uint8Array): boolean {
    const k = key(channel);
    const held = this.held.get(connection);
    if (held === undefined || !held.channels.delete(k)) return false;
    const subscribers = this.exact.get(k)!;
    subscribers.delete(connection);
    if (subscribers.size === 0) {
      this.exact.delete(k);
      this.interestChanged('channel', k, false);
    }
    this.release(connection, held);
    return true;
  }

  /** Subscribe `connection` to every channel matching the glob `pattern` (Redis's); false if it already was. */
  psubscribe(connection: Connection, pattern: string | Uint8Array, framer?: Framer): boolean {
    const k = key(pattern);
    const held = this.holder(connection);
    if (held.patterns.has(k)) return false;
    held.patterns.add(k);
    let entry = this.patterns.get(k);
    if (entry === undefined) {
      entry = { pattern: Buffer.from(k, 'latin1'), matches: compileGlob(k), subscribers: new Map() };
      this.patterns.set(k, entry);
      this.interestChanged('pattern', k, true);
    }
    entry.subscribers.set(connection, framer);
    connection.subscriptions++;
    return true;
  }

  punsubscribe(connection: Connection, pattern: string | Uint8Array): boolean {
    const k = key(pattern);
    const held = this.held.get(connection);
    if (held === undefined || !held.patterns.delete(k)) return false;
    const entry = this.patterns.get(k)!;
    entry.subscribers.delete(connection);
    if (entry.subscribers.size === 0) {
      this.patterns.delete(k);
      this.interestChanged('pattern', k, false);
    }
    this.release(connection, held);
    return true;
  }

  /** The channels `connection` is subscribed to, in the order it subscribed. */
  channelsOf(connection: Connection): Buffer[] {
    return [...(this.held.get(connection)?.channels ?? [])].map((k) => Buffer.from(k, 'latin1'));
  }

  /** The patterns `connection` is subscribed to, in the order it subscribed. */
  patternsOf(connection: Connection): Buffer[] {
    return [...(this.held.get(connection)?.patterns ?? [])].map((k) => Buffer.from(k, 'latin1'));
  }

  /** Channels with subscribers here, those matching `pattern` if given (PUBSUB CHANNELS). */
  activeChannels(pattern?: string | Uint8Array): Buffer[] {
    const matches = pattern === undefined ? undefined : compileGlob(key(pattern));
    const out: Buffer[] = [];
    for (const k of this.exact.keys()) if (matches === undefined || matches(k)) out.push(Buffer.from(k, 'latin1'));
    return out;
  }

  /** Subscribers of `channel` here, patterns not counted (PUBSUB NUMSUB). */
  numsub(channel: string | Uint8Array): number {
    return this.exact.get(key(channel))?.size ?? 0;
  }

  /** Patterns subscribed to here (PUBSUB NUMPAT). */
  get numpat(): number {
    return this.patterns.size;
  }

  /**
   * Push `message` to the subscribers of `channel` here, and to those of every pattern it
   * matches; how many it was pushed to (a connection subscribed twice, by name and by a
   * pattern, gets it twice and counts twice, as in Redis).
   */
  publish(channel: string | Uint8Array, message: unknown): number {
    this.published++;
    const name = typeof channel === 'string' ? undefined : Buffer.from(channel.buffer, channel.byteOffset, channel.byteLength);
    return this.deliverAll(name === undefined ? key(channel) : name.toString('latin1'), message, name);
  }

  /** @internal A message published in another process (relayed): pushed here, counted as delivered, not as published. */
  deliverRelayed(channelKey: string, message: unknown): number {
    return this.deliverAll(channelKey, message);
  }

  /** Every channel and pattern this process has subscribers of, as keys (a worker's interest, told again). */
  interest(): { channels: string[]; patterns: string[] } {
    return { channels: [...this.exact.keys()], patterns: [...this.patterns.keys()] };
  }

  /** @internal A message from another host (Redis) on channel `channelKey`: pushed to its subscribers here, patterns not included. */
  deliverExact(channelKey: string, message: unknown): number {
    const subscribers = this.exact.get(channelKey);
    return subscribers === undefined ? 0 : this.deliver(subscribers, message, Buffer.from(channelKey, 'latin1'), undefined);
  }

  /** @internal A message from another host (Redis) matching `patternKey`: pushed to that pattern's subscribers here. */
  deliverPattern(patternKey: string, channelKey: string, message: unknown): number {
    const entry = this.patterns.get(patternKey);
    return entry === undefined ? 0 : this.deliver(entry.subscribers, message, Buffer.from(channelKey, 'latin1'), entry.pattern);
  }

  /** `name`: the channel's bytes when the publisher gave bytes (made from the key otherwise). */
  private deliverAll(k: string, message: unknown, name: Buffer = Buffer.from(k, 'latin1')): number {
    let sent = 0;
    const subscribers = this.exact.get(k);
    if (subscribers !== undefined) sent += this.deliver(subscribers, message, name, undefined);
    for (const entry of this.patterns.values()) {
      if (entry.matches(k)) sent += this.deliver(entry.subscribers, message, name, entry.pattern);
    }
    return sent;
  }

  /** @internal `connection` closed: it leaves every channel and pattern (before connectionLost). */
  leave(connection: Connection): void {
    const held = this.held.get(connection);
    if (held === undefined) return;
    for (const k of held.channels) this.unsubscribe(connection, Buffer.from(k, 'latin1'));
    for (const k of held.patterns) this.punsubscribe(connection, Buffer.from(k, 'latin1'));
  }

  stats(): PubSubStats {
    return {
      channels: this.exact.size, patterns: this.patterns.size, subscribers: this.held.size,
      published: this.published, delivered: this.delivered, dropped: this.dropped,
    };
  }

  /** Push to each subscriber the message framed and encoded once per framer; how many took it. */
  private deliver(subscribers: Subscribers, message: unknown, channel: Buffer, pattern: Buffer | undefined): number {
    // Subscribers of one channel nearly always share one framer: the last one used is kept at hand.
    let lastFramer: Framer | undefined | null = null;
    let lastPush: Pushed | undefined;
    let encoded: Map<Framer | undefined, Pushed> | undefined;
    let sent = 0;
    // forEach, not for-of with [key, value]: no entry array per subscriber.
    subscribers.forEach((framer, connection) => {
      let push = framer === lastFramer ? lastPush : encoded?.get(framer);
      if (push === undefined) {
        push = new Pushed(connection.encodePush(framer === undefined ? message : framer(message, channel, pattern)));
        if (lastFramer !== null) (encoded ??= new Map([[lastFramer, lastPush!]])).set(framer, push);
      }
      lastFramer = framer;
      lastPush = push;
      if (connection.sendPushed(push)) sent++;
    });
    this.dropped += subscribers.size - sent;
    this.delivered += sent;
    return sent;
  }

  private interestChanged(kind: 'channel' | 'pattern', k: string, on: boolean): void {
    for (const watcher of this.watchers) watcher(kind, k, on);
  }

  private holder(connection: Connection): Held {
    let held = this.held.get(connection);
    if (held === undefined) this.held.set(connection, (held = { channels: new Set(), patterns: new Set() }));
    return held;
  }

  private release(connection: Connection, held: Held): void {
    connection.subscriptions--;
    if (held.channels.size === 0 && held.patterns.size === 0) this.held.delete(connection);
  }
}
