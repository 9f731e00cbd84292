import { compileGlob } from '../net/glob.js';
import type { Channels } from '../net/channels.js';
import type { PubSubRelay } from '../net/pubsub.js';

/**
 * Pub/sub across the workers of a server (docs/design.md §15), relayed by the arbiter. Each
 * worker tells the arbiter which channels and patterns it has subscribers of (when the first
 * comes and the last goes); a publish is pushed in its own worker, then sent to the arbiter,
 * which hands it to the other workers with interest and answers how many received it there.
 * A worker learns whether any other worker has interest at all, so with none (one worker, or no
 * subscriber elsewhere) a publish costs no message. Order per publisher is kept: IPC is ordered.
 */

/** A message as it crosses IPC (JSON): bytes as base64, text as itself, anything else as JSON. */
export type WireMessage = { readonly s: string } | { readonly b: string } | { readonly j: unknown };

export function toWire(message: unknown): WireMessage {
  if (typeof message === 'string') return { s: message };
  if (message instanceof Uint8Array) return { b: Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('base64') };
  return { j: message };
}

export function fromWire(wire: WireMessage): unknown {
  if ('s' in wire) return wire.s;
  if ('b' in wire) return Buffer.from(wire.b, 'base64');
  return wire.j;
}

/** Worker → arbiter messages of the relay (checked in ipc.ts as every message from a worker is). */
export type RelayOp =
  | { readonly t: 'ps-interest'; readonly kind: 'channel' | 'pattern'; readonly key: string; readonly on: boolean }
  | { readonly t: 'ps-pub'; readonly id: number; readonly key: string; readonly msg: WireMessage }
  | { readonly t: 'ps-done'; readonly id: number; readonly n: number };

/** Arbiter → worker messages of the relay. */
export type RelayToOp =
  | { readonly t: 'ps-peers'; readonly on: boolean }
  | { readonly t: 'ps-deliver'; readonly id: number; readonly key: string; readonly msg: WireMessage }
  | { readonly t: 'ps-count'; readonly id: number; readonly n: number };

/**
 * What crosses IPC: the relay messages of one turn of the event loop, in order, as one IPC
 * message (a publisher's read of 16 PUBLISH is one message to the arbiter, not 16).
 */
export type RelayFromWorker = { readonly t: 'ps'; readonly m: readonly RelayOp[] };
export type RelayToWorker = { readonly t: 'ps'; readonly m: readonly RelayToOp[] };

/** Sends the messages of one turn together, in order, once its microtasks are done. */
class Batcher<M> {
  private out: M[] = [];

  constructor(private readonly flush: (batch: M[]) => void) {}

  send(m: M): void {
    if (this.out.push(m) === 1) queueMicrotask(() => {
      const batch = this.out;
      this.out = [];
      this.flush(batch);
    });
  }
}

/** The worker's side: publishes go to the arbiter when other workers have interest; relayed ones are pushed here. */
export class WorkerRelay implements PubSubRelay {
  private peers = false;
  private nextId = 0;
  private readonly waiting = new Map<number, (n: number) => void>();
  private readonly out: Batcher<RelayOp>;

  constructor(private readonly channels: Channels, send: (m: RelayFromWorker) => void) {
    const out = this.out = new Batcher<RelayOp>((m) => send({ t: 'ps', m }));
    channels.watchInterest((kind, key, on) => out.send({ t: 'ps-interest', kind, key, on }));
  }

  publish(channel: Buffer, message: unknown): number | Promise<number> {
    if (!this.peers) return 0;
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.out.send({ t: 'ps-pub', id, key: channel.toString('latin1'), msg: toWire(message) });
    });
  }

  /** Relay messages from the arbiter. */
  received(batch: RelayToWorker): void {
    for (const m of batch.m) {
      if (m.t === 'ps-peers') this.peers = m.on;
      else if (m.t === 'ps-deliver') this.out.send({ t: 'ps-done', id: m.id, n: this.channels.deliverRelayed(m.key, fromWire(m.msg)) });
      else {
        const resolve = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        resolve?.(m.n);
      }
    }
  }
}

/** What one worker has subscribers of. */
interface Interest {
  readonly channels: Set<string>;
  readonly patterns: Map<string, (key: string) => boolean>;
  /** Whether it was last told that another worker has interest. */
  peers: boolean;
  /** What it is sent this turn. */
  readonly out: Batcher<RelayToOp>;
  /** Ready: it reads relay messages (before, a booting worker would drop them). */
  ready: boolean;
}

/** A publish handed to other workers, waiting for their counts. */
interface Relayed {
  readonly origin: RelayPeer;
  readonly originId: number;
  readonly waiting: Set<RelayPeer>;
  n: number;
}

/** A worker as the arbiter's relay sees it. */
export interface RelayPeer {
  send(m: RelayToWorker): void;
}

/** The arbiter's side, one per server. */
export class ArbiterRelay {
  private readonly interest = new Map<RelayPeer, Interest>();
  private readonly relayed = new Map<number, Relayed>();
  private nextId = 0;

  /**
   * A worker is ready: from now on it is told whether others have interest. What it told of its
   * own before (subscribers of a connection accepted during its start) is kept.
   */
  joined(peer: RelayPeer): void {
    this.of(peer).ready = true;
    this.updatePeers();
  }

  /** A worker is gone: its interest with it, and it no longer owes a count. */
  left(peer: RelayPeer): void {
    if (!this.interest.delete(peer)) return;
    for (const [id, r] of this.relayed) {
      if (r.origin === peer) this.relayed.delete(id);
      else if (r.waiting.delete(peer)) this.settle(id, r);
    }
    this.updatePeers();
  }

  received(peer: RelayPeer, batch: RelayFromWorker): void {
    const own = this.of(peer);
    for (const m of batch.m) {
      if (m.t === 'ps-interest') {
        if (m.kind === 'channel') {
          if (m.on) own.channels.add(m.key);
          else own.channels.delete(m.key);
        } else if (m.on) own.patterns.set(m.key, compileGlob(m.key));
        else own.patterns.delete(m.key);
        this.updatePeers();
      } else if (m.t === 'ps-pub') this.relay(peer, m);
      else {
        const r = this.relayed.get(m.id);
        if (r !== undefined && r.waiting.delete(peer)) {
          r.n += m.n;
          this.settle(m.id, r);
        }
      }
    }
  }

  /** Hand a publish to every other worker with interest in its channel. */
  private relay(origin: RelayPeer, m: Extract<RelayOp, { t: 'ps-pub' }>): void {
    const waiting = new Set<RelayPeer>();
    for (const [peer, interest] of this.interest) {
      // Only ready workers: a booting one does not read relay messages yet, and would never answer.
      if (peer !== origin && interest.ready && wants(interest, m.key)) waiting.add(peer);
    }
    if (waiting.size === 0) {
      this.to(origin, { t: 'ps-count', id: m.id, n: 0 });
      return;
    }
    const id = ++this.nextId;
    this.relayed.set(id, { origin, originId: m.id, waiting, n: 0 });
    for (const peer of waiting) this.to(peer, { t: 'ps-deliver', id, key: m.key, msg: m.msg });
  }

  private of(peer: RelayPeer): Interest {
    let interest = this.interest.get(peer);
    if (interest === undefined) this.interest.set(peer, (interest = fresh(peer)));
    return interest;
  }

  /** Send to a worker still here, with the rest of this turn's messages to it. */
  private to(peer: RelayPeer, m: RelayToOp): void {
    this.interest.get(peer)?.out.send(m);
  }

  private settle(id: number, r: Relayed): void {
    if (r.waiting.size > 0) return;
    this.relayed.delete(id);
    this.to(r.origin, { t: 'ps-count', id: r.originId, n: r.n });
  }

  /** Tell each worker, when it changes, whether any other worker has interest in anything. */
  private updatePeers(): void {
    let holders = 0;
    for (const interest of this.interest.values()) if (interest.channels.size > 0 || interest.patterns.size > 0) holders++;
    for (const [peer, interest] of this.interest) {
      const own = interest.channels.size > 0 || interest.patterns.size > 0 ? 1 : 0;
      const peers = holders - own > 0;
      if (interest.ready && peers !== interest.peers) {
        interest.peers = peers;
        this.to(peer, { t: 'ps-peers', on: peers });
      }
    }
  }
}

function fresh(peer: RelayPeer): Interest {
  return { channels: new Set(), patterns: new Map(), peers: false, ready: false, out: new Batcher((m) => peer.send({ t: 'ps', m })) };
}

function wants(interest: Interest, key: string): boolean {
  if (interest.channels.has(key)) return true;
  for (const matches of interest.patterns.values()) if (matches(key)) return true;
  return false;
}
