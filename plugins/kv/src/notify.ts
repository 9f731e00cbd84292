/**
 * Keyspace notifications (Redis's notify-keyspace-events): the store's events published on
 * `__keyspace@0__:<key>` (message: the event) and `__keyevent@0__:<event>` (message: the key)
 * through the server's pub/sub, so that subscribers in every worker receive them.
 */
import type { PubSub } from '@socketserver/core';
import type { Store } from './store.js';

const KEYSPACE = 1 << 0;
const KEYEVENT = 1 << 1;
/** Each class letter's flag, Redis's values (server.h NOTIFY_*). */
const CLASSES: Readonly<Record<string, number>> = {
  g: 1 << 2, $: 1 << 3, l: 1 << 4, s: 1 << 5, h: 1 << 6, z: 1 << 7, x: 1 << 8, e: 1 << 9, t: 1 << 10, m: 1 << 11, d: 1 << 13, n: 1 << 14,
};
/** 'A': every class but m (key miss) and n (new key), as Redis. */
const ALL = CLASSES.g! | CLASSES.$! | CLASSES.l! | CLASSES.s! | CLASSES.h! | CLASSES.z! | CLASSES.x! | CLASSES.e! | CLASSES.t! | CLASSES.d!;

/** Redis's keyspaceEventsStringToFlags: the flags of a class string, undefined for an unknown character. */
export function parseEvents(classes: string): number | undefined {
  let flags = 0;
  for (const c of classes) {
    if (c === 'A') flags |= ALL;
    else if (c === 'K') flags |= KEYSPACE;
    else if (c === 'E') flags |= KEYEVENT;
    else if (Object.hasOwn(CLASSES, c)) flags |= CLASSES[c]!;
    else return undefined;
  }
  return flags;
}

/** Redis's keyspaceEventsFlagsToString: 'A' for all, else the letters in Redis's order; then K, E, m. */
export function formatEvents(flags: number): string {
  let out = '';
  if ((flags & ALL) === ALL) out = 'A';
  else for (const c of 'g$lshzxetdn') if (flags & CLASSES[c]!) out += c;
  if (flags & KEYSPACE) out += 'K';
  if (flags & KEYEVENT) out += 'E';
  if (flags & CLASSES.m!) out += 'm';
  return out;
}

/**
 * Publishes a store's events by the configured classes. The store's listener is unset while
 * nothing would be published, so that commands pay nothing for notifications turned off.
 */
export class Notifier {
  private flags = 0;
  /** The server's channels, known from the first connection (an event before any has no subscriber to reach). */
  pubsub: PubSub | undefined;

  constructor(private readonly store: Store) {}

  get events(): number {
    return this.flags;
  }

  set events(flags: number) {
    this.flags = flags;
    const on = (flags & (KEYSPACE | KEYEVENT)) !== 0 && (flags & ~(KEYSPACE | KEYEVENT)) !== 0;
    this.store.onEvent = on ? this.publish : undefined;
  }

  private readonly publish = (type: string, event: string, key: string): void => {
    const flags = this.flags;
    if (!Object.hasOwn(CLASSES, type) || (flags & CLASSES[type]!) === 0 || this.pubsub === undefined) return;
    if (flags & KEYSPACE) this.send(`__keyspace@0__:${key}`, Buffer.from(event, 'latin1'));
    if (flags & KEYEVENT) this.send(`__keyevent@0__:${event}`, Buffer.from(key, 'latin1'));
  };

  /** Published as PUBLISH does, with no connection; a refusal (publish hook) or a lost relay is not the command's failure. */
  private send(channel: string, message: Buffer): void {
    try {
      const n = this.pubsub!.publishNow(Buffer.from(channel, 'latin1'), message);
      if (typeof n !== 'number') n.catch(() => undefined);
    } catch {
      // refused by a publish hook: the event is not published, as a refused PUBLISH is not
    }
  }
}
