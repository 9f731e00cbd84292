import type { Redis as RedisClient } from 'ioredis';
import type { Channels } from '../net/channels.js';
import type { PubSubRemote, RemoteStats } from '../net/pubsub.js';
import type { Logger } from '../logger.js';

/**
 * Channels across hosts through Redis pub/sub (`--pubsub redis://…`, docs/design.md §15), as
 * Socket.IO's Redis adapter does it. Each process has two Redis connections: one subscribed to
 * exactly the channels and patterns it has subscribers of (told by `Channels.watchInterest`,
 * all of them again after every reconnect), one that publishes. A publish is pushed here, relayed
 * to the other workers of this server by the arbiter, and sent to Redis; the workers of this
 * server skip it when Redis hands it back (its origin is theirs), the servers of other hosts
 * push it to their subscribers. Nothing is queued while Redis is down: publishes then are lost
 * to other hosts (counted), never held in memory.
 */

/** "\0ss\x01": a message published by socketserver; its origin and kind follow, then the message. */
const MAGIC = Buffer.from([0x00, 0x73, 0x73, 0x01]);
export const ORIGIN_BYTES = 8;
const HEADER = MAGIC.length + ORIGIN_BYTES + 1;
const KIND_BYTES = 0;
const KIND_TEXT = 1;
const KIND_JSON = 2;
/** Channels subscribed in one command after a reconnect (a long SUBSCRIBE is split). */
const SUBSCRIBE_CHUNK = 1000;
/** Returned by `decode` for a message this server published itself (it had it already). */
const OURS = Symbol('ours');

/** A message as it goes to Redis: the header, then the bytes (a Buffer), the text or the JSON. */
export function envelope(origin: Buffer, message: unknown): Buffer {
  let kind: number;
  let body: Buffer;
  if (message instanceof Uint8Array) [kind, body] = [KIND_BYTES, Buffer.from(message.buffer, message.byteOffset, message.byteLength)];
  else if (typeof message === 'string') [kind, body] = [KIND_TEXT, Buffer.from(message)];
  else [kind, body] = [KIND_JSON, Buffer.from(JSON.stringify(message) ?? 'null')];
  const out = Buffer.allocUnsafe(HEADER + body.length);
  MAGIC.copy(out, 0);
  origin.copy(out, MAGIC.length);
  out[HEADER - 1] = kind;
  body.copy(out, HEADER);
  return out;
}

/**
 * A message from Redis: what it carries, or OURS when this server published it. A message
 * another program published (no header, or one that does not parse) is delivered as its bytes.
 */
export function decode(origin: Buffer, data: Buffer): unknown {
  if (data.length < HEADER || MAGIC.compare(data, 0, MAGIC.length) !== 0) return data;
  if (origin.compare(data, MAGIC.length, MAGIC.length + ORIGIN_BYTES) === 0) return OURS;
  const body = data.subarray(HEADER);
  const kind = data[HEADER - 1];
  if (kind === KIND_BYTES) return body;
  if (kind === KIND_TEXT) return body.toString();
  if (kind === KIND_JSON) {
    try {
      return JSON.parse(body.toString()) as unknown;
    } catch {
      return data;
    }
  }
  return data;
}

/** A glob with its metacharacters escaped, so that a prefix matches itself in a PSUBSCRIBE. */
function globLiteral(text: Buffer): Buffer {
  return Buffer.from(text.toString('latin1').replace(/[*?[\]\\]/g, '\\$&'), 'latin1');
}

export interface BridgeOptions {
  /** The `--pubsub` URL. */
  readonly url: string;
  /** `--pubsub-prefix`: before every name in Redis. */
  readonly prefix: string;
  /** Shared by the workers of one server: a message of this origin has been delivered here already. */
  readonly origin: Buffer;
  readonly channels: Channels;
  readonly log: Logger;
}

export class RedisBridge implements PubSubRemote {
  private readonly prefix: Buffer;
  private readonly patternPrefix: Buffer;
  /** Where Redis is, for log lines (never the password). */
  private readonly where: string;
  private sent = 0;
  private received = 0;
  private lost = 0;
  /** Redis was reached once, then lost: the next `ready` is a reconnect (logged). */
  private outage = false;
  private ready = false;
  /** Patterns subscribed to in Redis, by their name there as ioredis gives it back (text), to their keys. */
  private readonly patternKeys = new Map<string, string>();
  private closing = false;

  /** Connect (in the background: a server starts while Redis is down, and reconnects). */
  static async open(o: BridgeOptions): Promise<RedisBridge> {
    const { Redis } = (await import('ioredis')).default;
    const common = {
      // Nothing queued while Redis is down: a publish then is lost to other hosts, not held.
      enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 1,
      // The subscriptions are made again from what has subscribers now, not from a past list.
      autoResubscribe: false, lazyConnect: true, protocol: 2 as const, maintNotifications: 'disabled' as const,
    };
    const sub = new Redis(o.url, { ...common, connectionName: 'socketserver-sub' });
    const pub = new Redis(o.url, { ...common, connectionName: 'socketserver-pub' });
    return new RedisBridge(o, sub, pub);
  }

  private constructor(private readonly o: BridgeOptions, private readonly sub: RedisClient, private readonly pub: RedisClient) {
    this.prefix = Buffer.from(o.prefix);
    this.patternPrefix = globLiteral(this.prefix);
    this.where = `${sub.options.host ?? 'localhost'}:${sub.options.port ?? 6379}`;
    sub.on('ready', () => this.subscribed());
    sub.on('close', () => this.lostRedis());
    sub.on('error', (err: Error) => this.failed(err));
    pub.on('error', () => {}); // the subscriber's connection says it (one line an outage)
    // A message that cannot be pushed (a framer or an encoder failing on it) is logged, not thrown into ioredis.
    sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.guard(() => this.message(channel, data)));
    sub.on('pmessageBuffer', (pattern: string, channel: Buffer, data: Buffer) => this.guard(() => this.pmessage(pattern, channel, data)));
    o.channels.watchInterest((kind, key, on) => this.interest(kind, key, on));
    sub.connect().catch(() => {}); // failures come as 'error' events, and it retries
    pub.connect().catch(() => {});
  }

  publish(channel: Buffer, message: unknown): void {
    if (this.pub.status !== 'ready') {
      this.lost++;
      return;
    }
    this.sent++;
    this.pub.publish(Buffer.concat([this.prefix, channel]), envelope(this.o.origin, message)).catch(() => { this.lost++; });
  }

  stats(): RemoteStats {
    const ready = this.ready && this.pub.status === 'ready';
    return { state: ready ? 'ready' : 'connecting', sent: this.sent, received: this.received, lost: this.lost };
  }

  /** Disconnect both connections (the server is stopping). */
  close(): void {
    this.closing = true;
    this.sub.disconnect();
    this.pub.disconnect();
  }

  /** Connected: subscribe to everything that has subscribers here now. */
  private subscribed(): void {
    const { channels, patterns } = this.o.channels.interest();
    for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
      this.sub.subscribe(...channels.slice(i, i + SUBSCRIBE_CHUNK).map((k) => this.name(k))).catch(() => {});
    }
    this.patternKeys.clear();
    for (let i = 0; i < patterns.length; i += SUBSCRIBE_CHUNK) {
      this.patterns('psubscribe', patterns.slice(i, i + SUBSCRIBE_CHUNK).map((k) => this.pattern(k, true))).catch(() => {});
    }
    this.ready = true;
    if (this.outage) {
      this.outage = false;
      this.o.log.info({ redis: this.where, channels: channels.length, patterns: patterns.length }, `pubsub: reconnected to redis ${this.where}, subscribed again`);
    } else this.o.log.debug({ redis: this.where }, `pubsub: sharing channels through redis ${this.where}`);
  }

  private lostRedis(): void {
    const was = this.ready;
    this.ready = false;
    if (!was || this.closing) return;
    this.outage = true;
    this.o.log.warn({ redis: this.where }, `pubsub: lost redis ${this.where}, reconnecting; until then publishes do not reach other hosts`);
  }

  /** A failed connect: said once, until it is back (ioredis retries with back-off). */
  private failed(err: Error): void {
    if (this.outage || this.closing) return;
    this.outage = true;
    this.o.log.warn({ redis: this.where, err: err.message }, `pubsub: cannot reach redis ${this.where} (${err.message}), retrying`);
  }

  private guard(deliver: () => void): void {
    try {
      deliver();
    } catch (err) {
      this.o.log.error({ err }, `pubsub: a message from redis could not be pushed: ${(err as Error).message}`);
    }
  }

  private interest(kind: 'channel' | 'pattern', key: string, on: boolean): void {
    if (this.sub.status !== 'ready') return; // subscribed to all of it on (re)connect
    const sub = this.sub;
    const done = (p: Promise<unknown>) => { p.catch(() => {}); };
    if (kind === 'channel') done(on ? sub.subscribe(this.name(key)) : sub.unsubscribe(this.name(key)));
    else done(this.patterns(on ? 'psubscribe' : 'punsubscribe', [this.pattern(key, on)]));
  }

  /** PSUBSCRIBE or PUNSUBSCRIBE with patterns as bytes (ioredis takes them; its types say strings). */
  private patterns(command: 'psubscribe' | 'punsubscribe', names: Buffer[]): Promise<unknown> {
    return (this.sub[command] as unknown as (...names: Buffer[]) => Promise<unknown>).apply(this.sub, names);
  }

  private message(channel: Buffer, data: Buffer): void {
    const key = this.unprefixed(channel);
    if (key === undefined) return;
    const message = this.fromOthers(data);
    if (message !== OURS) this.o.channels.deliverExact(key, message);
  }

  /** ioredis gives a pattern as text (UTF-8): it is looked up among those subscribed to. */
  private pmessage(pattern: string, channel: Buffer, data: Buffer): void {
    const patternKey = this.patternKeys.get(pattern);
    const channelKey = this.unprefixed(channel);
    if (patternKey === undefined || channelKey === undefined) return;
    const message = this.fromOthers(data);
    if (message !== OURS) this.o.channels.deliverPattern(patternKey, channelKey, message);
  }

  /** What another server published (counted as received), or OURS for what this one did. */
  private fromOthers(data: Buffer): unknown {
    const message = decode(this.o.origin, data);
    if (message !== OURS) this.received++;
    return message;
  }

  /** A channel's name in Redis (its key is latin1, one char a byte). */
  private name(key: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(key, 'latin1')]);
  }

  /** A pattern's name in Redis, kept (`on`) or let go of in the map pmessage looks its key up in. */
  private pattern(key: string, on: boolean): Buffer {
    const name = Buffer.concat([this.patternPrefix, Buffer.from(key, 'latin1')]);
    if (on) this.patternKeys.set(name.toString(), key);
    else this.patternKeys.delete(name.toString());
    return name;
  }

  /** A channel's name from Redis without the prefix, as a key; undefined if it lacks the prefix. */
  private unprefixed(name: Buffer): string | undefined {
    const prefix = this.prefix;
    if (name.length < prefix.length || prefix.compare(name, 0, prefix.length) !== 0) return undefined;
    return name.toString('latin1', prefix.length);
  }
}
