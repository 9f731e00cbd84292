import { Channels, type Framer, type PubSubStats } from './channels.js';
import type { Connection } from './connection.js';
import { RefusedError } from '../errors.js';

/** A guard hook as pub/sub calls it (a tapable SyncBailHook is one): a value other than undefined refuses. */
interface Guard<A extends unknown[]> {
  readonly taps: readonly unknown[];
  call(...args: A): unknown;
}

/** Publishes to the other workers of the server (the arbiter's relay): how many subscribers there took it. */
export interface PubSubRelay {
  publish(channel: Buffer, message: unknown): Promise<number>;
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
   * many received it. `from` is the publishing connection, for the `publish` hook.
   */
  publish(channel: string | Uint8Array, message: unknown, from?: Connection): Promise<number> {
    try {
      this.check(this.hooks.publish.taps.length > 0 ? this.hooks.publish.call(Buffer.from(channel), message, from) : undefined, 'publish to', channel);
      const here = this.local.publish(channel, message);
      const relay = this.relay;
      if (relay === undefined) return Promise.resolve(here);
      return relay.publish(Buffer.from(channel), message).then((there) => here + there);
    } catch (err) {
      return Promise.reject(err as Error);
    }
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

  stats(): PubSubStats {
    return this.local.stats();
  }

  private check(verdict: unknown, what: string, name: string | Uint8Array): void {
    if (verdict === undefined) return;
    const why = typeof verdict === 'string' ? verdict : verdict instanceof Error ? verdict.message : 'refused by a plugin';
    throw new RefusedError(`${what} ${JSON.stringify(Buffer.from(name).toString())} refused: ${why}`);
  }
}
