import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import type { Address } from '../address.js';
import { errorMessage } from '../errors.js';
import type { ToWorker } from './ipc.js';
import { listen, takeHandles, type Listener } from '../net/listen.js';
import { listeningHandle, type NativeHandle } from '../net/native-handle.js';
import type { Logger } from '../logger.js';
import type { CoreSettings } from '../config/core-settings.js';

/** What the slots need of a worker process. */
export interface SlotWorker {
  readonly id: number;
  send(message: ToWorker, handle?: NativeHandle, done?: (err: Error | null) => void): void;
}

/** How connections reach workers once resolved from `balance` (auto picks one of the others). */
export type Balance = Exclude<CoreSettings['balance'], 'auto'>;

interface Slot {
  /** How many sockets the slot has (one per address it listens on). */
  readonly size: number;
  /** The arbiter's descriptors of the slot's sockets, not accepted on here. */
  kept: NativeHandle[];
  /** The slot's sockets while the arbiter accepts on them itself (no worker of the slot serving). */
  polled: NetServer[];
  /** Workers accepting on the slot's sockets. */
  holders: Set<SlotWorker>;
  /** The worker asked to send back descriptors to keep (the slot was polled). */
  keeper: SlotWorker | null;
  /** The worker that sent back the descriptors kept: it accepts on them already. */
  source: SlotWorker | null;
  opening: Promise<void> | null;
  /** `serve` calls waiting for the keeper to take the polled sockets over. */
  waiting: (() => void)[];
}

/** The key of the one slot every worker holds. */
const SHARED = 'shared';

/**
 * Workers accepting on listening sockets themselves, in slots. With reuse-port, each worker slot
 * has its own listening socket per TCP address, all in the port's SO_REUSEPORT group, so the
 * kernel spreads connections over the workers without a hop through the arbiter, and the arbiter
 * itself is not in the group. With shared (and for unix sockets, which have no SO_REUSEPORT), one
 * slot holds the sockets the arbiter bound and every worker accepts on them (pre-fork, as
 * node:cluster's SCHED_NONE and gunicorn do): whichever worker is free takes the next connection.
 *
 * The arbiter keeps a descriptor of every slot socket without accepting on it. The socket, and
 * the connections waiting in its queue, so outlive the worker accepting on it: a crash, a reload
 * or a max_requests restart loses none of them and never frees the address; the slot's next worker
 * takes the same socket over. While no worker of a slot serves (start-up, after a crash, after
 * TTOU removed the slot) the arbiter accepts on the slot's sockets itself and hands what they
 * accept to ready workers. Only a stop closes them: closing resets the connections queued.
 * Node cannot stop accepting on a socket without closing that descriptor, so the descriptor to
 * keep comes back from the worker that takes a polled socket over.
 */
export class ListenSlots {
  private readonly slots = new Map<string, Slot>();
  /** Reuse-port: where every worker slot listens: the TCP addresses, with the real port when 0 was asked for. */
  private readonly addrs: readonly Address[];
  /** Slots each keeper is taking over, in the order it was asked: its `kept` replies come in that order. */
  private readonly pending = new Map<SlotWorker, Slot[]>();

  constructor(
    balance: Exclude<Balance, 'round-robin'>,
    /** The sockets the arbiter bound at start: slot 1's with reuse-port (TCP), the shared slot's otherwise. */
    bound: readonly Listener[],
    private readonly backlog: number,
    private readonly route: (handle: NativeHandle) => void,
    private readonly log: Logger,
  ) {
    // An inherited socket (fd://N) is shared whatever the balance: a worker slot's socket would be a
    // new bind of its port, and the port is systemd's to bind, not ours.
    const own = balance === 'reuse-port' ? bound.filter((l) => l.address.kind === 'tcp') : [];
    const shared = bound.filter((l) => !own.includes(l));
    this.addrs = own.map((l) => ({ ...l.address, port: (l.server.address() as AddressInfo).port, text: l.bound }));
    if (own.length > 0) this.slots.set('1', this.slot(own.length, own.map((l) => l.server)));
    if (shared.length > 0) this.slots.set(SHARED, this.slot(shared.length, shared.map((l) => l.server)));
  }

  private slot(size: number, polled: NetServer[] = []): Slot {
    return { size, kept: [], polled, holders: new Set(), keeper: null, source: null, opening: null, waiting: [] };
  }

  /**
   * A worker is ready: it accepts on its slot's sockets and the shared ones from now on.
   * Resolves once it does (and the arbiter no longer does), or once that can no longer happen.
   */
  async serve(worker: SlotWorker): Promise<void> {
    await Promise.all([
      ...(this.addrs.length > 0 ? [this.serveSlot(String(worker.id), worker)] : []),
      ...(this.slots.has(SHARED) ? [this.serveSlot(SHARED, worker)] : []),
    ]);
  }

  private async serveSlot(key: string, worker: SlotWorker): Promise<void> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, slot = this.slot(this.addrs.length));
    if (slot.kept.length === 0 && slot.polled.length === 0) await (slot.opening ??= this.open(worker.id, slot));
    if (this.slots.get(key) !== slot) return; // removed meanwhile
    slot.holders.add(worker);
    if (slot.kept.length < slot.size) {
      if (slot.polled.length === 0) return; // no socket of its own (logged)
      // Once the keeper has taken the polled sockets over, every holder gets the kept ones.
      if (slot.keeper === null) this.takeOver(slot, worker);
      await new Promise<void>((resolve) => slot.waiting.push(resolve));
      if (slot.source === worker) return; // it accepts on them already
    }
    if (slot.kept.length === slot.size && slot.holders.has(worker)) await this.give(slot, worker);
  }

  /** Send a worker the slot's sockets; resolves once they are on their way (sent, if the arbiter stops now). */
  private give(slot: Slot, worker: SlotWorker): Promise<unknown> {
    return Promise.all(slot.kept.map((h) => new Promise((resolve) => worker.send({ t: 'listen', keep: false }, h, resolve))));
  }

  private takeOver(slot: Slot, worker: SlotWorker): void {
    slot.keeper = worker;
    this.pending.set(worker, [...(this.pending.get(worker) ?? []), slot]);
    for (const server of slot.polled) worker.send({ t: 'listen', keep: true }, listeningHandle(server));
  }

  private settle(slot: Slot): void {
    for (const resolve of slot.waiting.splice(0)) resolve();
  }

  /** A descriptor to keep, sent back by the worker that took a polled socket over. */
  kept(worker: SlotWorker, handle: NativeHandle): void {
    const slot = this.pending.get(worker)?.[0];
    if (!slot || slot.keeper !== worker) {
      handle.close();
      return;
    }
    slot.kept.push(handle);
    if (slot.kept.length < slot.size) return;
    this.pending.get(worker)!.shift();
    slot.keeper = null;
    slot.source = worker;
    // The worker has its own descriptors: the arbiter stops accepting (the sockets stay open).
    for (const server of slot.polled.splice(0)) server.close();
    this.settle(slot); // the other holders waiting get the kept descriptors
  }

  /**
   * A worker stopped accepting (it drains, or it exited): when it was the last one serving a
   * slot, the arbiter accepts on the slot's sockets until a worker of the slot is ready again.
   */
  left(worker: SlotWorker): void {
    this.pending.delete(worker);
    for (const slot of this.slots.values()) if (slot.holders.delete(worker)) this.leave(slot, worker);
  }

  private leave(slot: Slot, worker: SlotWorker): void {
    if (slot.keeper === worker) {
      // It died taking the polled sockets over (they are still open here): another holder does.
      for (const handle of slot.kept.splice(0)) handle.close();
      slot.keeper = null;
      const next = slot.holders.values().next().value;
      if (next) this.takeOver(slot, next);
      else this.settle(slot);
      return;
    }
    if (slot.holders.size > 0 || slot.kept.length < slot.size) return;
    for (const handle of slot.kept.splice(0)) slot.polled.push(this.accept(handle, worker.id));
  }

  /** Stop: close every descriptor the arbiter has (workers close their own). */
  close(): void {
    for (const slot of this.slots.values()) this.release(slot);
    this.slots.clear();
    this.pending.clear();
  }

  private release(slot: Slot): void {
    this.settle(slot);
    for (const handle of slot.kept.splice(0)) handle.close();
    for (const server of slot.polled.splice(0)) server.close();
  }

  /** New sockets for a slot, accepted on here until a worker takes them over. */
  private async open(id: number, slot: Slot): Promise<void> {
    try {
      for (const addr of this.addrs) {
        slot.polled.push((await listen(addr, this.backlog, () => {}, 'bind', { reusePort: 'join', onHandle: this.route })).server);
      }
    } catch (err) {
      // Another program took the port between the slot sockets: the others' sockets still serve.
      this.log.error({ worker: id }, `worker ${id}: no listening socket of its own (${errorMessage(err)}); the arbiter hands it connections`);
    } finally {
      slot.opening = null;
    }
  }

  /** Accept on a kept descriptor here. */
  private accept(handle: NativeHandle, id: number): NetServer {
    const server = createServer();
    server.on('error', (err) => this.log.error({ worker: id }, `slot ${id}: cannot accept on its socket: ${errorMessage(err)}`));
    server.listen(handle as never, this.backlog);
    takeHandles(server, this.route);
    return server;
  }
}
