import { Channels, type Framer, type PubSubStats } from './channels.js';
import type { Connection } from './connection.js';
import { RefusedError } from '../errors.js';

/** A guard hook as pub/sub calls it (a tapable SyncBailHook is one): a value other than undefined refuses. */
interface Guard<A extends unknown[]> {
  readonly taps: readonly unknown[];
  call(...args: A): unknown;
}

/**
 * Publishes to the other workers of the server (the arbiter's relay): how many subscribers there
 * took it; 0 at once when no other worker has subscribers.
 */
export interface PubSubRelay {
  publish(channel: Buffer, message: unknown): number | Promise<number>;
}

/** The figures of the bridge to other hosts (`ss info` pubsub.redis). */
export interface RemoteStats {
  /** `ready` while connected and subscribed; otherwise reconnecting (`connecting`). */
  readonly state: 'ready' | 'connecting';
  /** Publishes sent to the other hosts, received from them, and those lost while it was down. */
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
}

/** Publishes to other hosts (the Redis bridge): sent and forgotten, never waited for. */
export interface PubSubRemote {
  publish(channel: Buffer, message: unknown): void;
  stats(): RemoteStats;
}

/** The hooks pub/sub asks before it subscribes or publishes. */
export interface PubSubHooks {
  readonly subscribe: Guard<[Connection, Buffer, boolean]>;
  readonly publish: Guard<[Buffer, unknown, Connection | undefined]>;
}

/**
 * `app.pubsub`: channels for the connections of one server (docs/design.md §15). Subscribing
 * and publishing go through the `subscribe` and `publish` hooks first, which may refuse
 * (a `RefusedError` saying why).
 */
export class PubSub {
  /** @internal The channels of this process. */
  readonly local = new Channels();
  /** @internal Set in a worker of several: publishes reach the other workers' subscribers through it. */
  relay: PubSubRelay | undefined;
  /** @internal Set with `--pubsub redis://…`: publishes reach the servers of other hosts through it. */
  remote: PubSubRemote | undefined;

  constructor(private readonly hooks: PubSubHooks) {}

  /**
   * Subscribe `connection` to `channel`; false if it already was. `framer` shapes each message
   * for this subscriber's protocol (RESP's `message` array); without one the message is pushed as it is.
   * A connection holding a subscription is not closed by keep_alive, and leaves every channel as it closes.
   */
  subscribe(connection: Connection, channel: string | Uint8Array, framer?: Framer): boolean {
    this.check(this.hooks.subscribe.taps.length > 0 ? this.hooks.subscribe.call(connection, Buffer.from(channel), false) : undefined, 'subscribe to', channel);
    return this.local.subscribe(connection, channel, framer);
  }

  unsubscribe(connection: Connection, channel: string | Uint8Array): boolean {
    return this.local.unsubscribe(connection, channel);
  }

  /** Subscribe `connection` to every channel matching the glob `pattern` (`*`, `?`, `[a-z]`, `\` as in Redis). */
  psubscribe(connection: Connection, pattern: string | Uint8Array, framer?: Framer): boolean {
    this.check(this.hooks.subscribe.taps.length > 0 ? this.hooks.subscribe.call(connection, Buffer.from(pattern), true) : undefined, 'subscribe to pattern', pattern);
    return this.local.psubscribe(connection, pattern, framer);
  }

  punsubscribe(connection: Connection, pattern: string | Uint8Array): boolean {
    return this.local.punsubscribe(connection, pattern);
  }

  /** The channels `connection` is subscribed to. */
  channels(connection: Connection): Buffer[] {
    return this.local.channelsOf(connection);
  }

  /** The patterns `connection` is subscribed to. */
  patterns(connection: Connection): Buffer[] {
    return this.local.patternsOf(connection);
  }

  /**
   * Publish `message` on `channel`: pushed, encoded once, to every subscriber; resolves to how
   * many received it in this server (every worker); subscribers on other hosts (`--pubsub`)
   * receive it too but are not counted. `from` is the publishing connection, for the `publish` hook.
   */
  publish(channel: string | Uint8Array, message: unknown, from?: Connection): Promise<number> {
    try {
      const n = this.publishNow(channel, message, from);
      return typeof n === 'number' ? Promise.resolve(n) : n;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * `publish` for a handler that replies with the count: the count itself when every receiver
   * is in this process (one worker, or none of the others has subscribers), else a promise of
   * it. A sync reply costs less than an async one. Throws the `RefusedError` of a refusing hook.
   */
  publishNow(channel: string | Uint8Array, message: unknown, from?: Connection): number | Promise<number> {
    if (this.hooks.publish.taps.length > 0) this.check(this.hooks.publish.call(Buffer.from(channel), message, from), 'publish to', channel);
    const here = this.local.publish(channel, message);
    const { relay, remote } = this;
    if (relay === undefined && remote === undefined) return here;
    const name = typeof channel === 'string' ? Buffer.from(channel) : Buffer.from(channel.buffer, channel.byteOffset, channel.byteLength);
    remote?.publish(name, message);
    const there = relay === undefined ? 0 : relay.publish(name, message);
    return typeof there === 'number' ? here + there : there.then((n) => here + n);
  }

  /** Channels with subscribers, those matching the glob `pattern` if given (Redis's PUBSUB CHANNELS). */
  activeChannels(pattern?: string | Uint8Array): Buffer[] {
    return this.local.activeChannels(pattern);
  }

  /** Subscribers of `channel`, patterns not counted (PUBSUB NUMSUB). */
  numsub(channel: string | Uint8Array): number {
    return this.local.numsub(channel);
  }

  /** Patterns subscribed to (PUBSUB NUMPAT). */
  get numpat(): number {
    return this.local.numpat;
  }

  stats(): PubSubStats & { readonly redis?: RemoteStats } {
    const local = this.local.stats();
    return this.remote === undefined ? local : { ...local, redis: this.remote.stats() };
  }

  private check(verdict: unknown, what: string, name: string | Uint8Array): void {
    if (verdict === undefined) return;
    const why = typeof verdict === 'string' ? verdict : verdict instanceof Error ? verdict.message : 'refused by a plugin';
    throw new RefusedError(`${what} ${JSON.stringify(Buffer.from(name).toString())} refused: ${why}`);
  }
}
