import { bindDatagram, closeQuietly, type DatagramListener } from '../net/datagram.js';
import { stopReceiving, type NativeHandle } from '../net/native-handle.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SlotWorker } from './listen-slots.js';

interface Slot {
  readonly sockets: Promise<DatagramListener[]>;
  /** Which of them the slot bound itself (closed with it); the others are slot 1's, lent. */
  readonly own: Set<DatagramListener>;
}

/**
 * The udp:// sockets workers read (docs/design.md §16). The arbiter binds them, never reads them
 * and keeps them, so a worker's replacement (a crash, max_requests, HUP) reads the same socket,
 * datagrams queued in it meanwhile included, and the port is never released.
 *
 * Shared: one socket per address, read by every worker (the kernel wakes the waiting workers and
 * one takes each datagram). Reuse-port: each worker slot has a socket of its own per address, all
 * in the port's SO_REUSEPORT group, so the kernel gives each sender to one slot's socket and a
 * datagram wakes one worker. Slot 1's are those bound at start; a slot removed by TTOU has its
 * sockets closed, so that the kernel gives its senders to the sockets still read.
 */
export class DatagramSlots {
  private readonly slots = new Map<number, Slot>();
  private closed = false;

  constructor(
    private readonly reusePort: boolean,
    /** The sockets the arbiter bound at start (reading stopped): slot 1's with reuse-port, everyone's otherwise. */
    private readonly bound: readonly DatagramListener[],
    private readonly log: Logger,
  ) {
    if (bound.length > 0) this.slots.set(this.key(1), { sockets: Promise.resolve([...bound]), own: new Set(bound) });
  }

  private key(id: number): number {
    return this.reusePort ? id : 1;
  }

  /** A worker is ready: send it its slot's sockets, bound now if the slot is new. */
  async give(worker: SlotWorker): Promise<void> {
    if (this.bound.length === 0 || this.closed) return;
    const key = this.key(worker.id);
    let slot = this.slots.get(key);
    if (slot === undefined) this.slots.set(key, slot = this.open(worker.id));
    const sockets = await slot.sockets;
    if (this.slots.get(key) !== slot) return; // removed (TTOU) or stopped meanwhile
    for (const d of sockets) worker.send({ t: 'dgram', bound: d.bound }, d.socket as unknown as NativeHandle);
  }

  /** Reuse-port: new sockets in the group of each address, for slot `id`. */
  private open(id: number): Slot {
    const own = new Set<DatagramListener>();
    const sockets = (async () => {
      const out: DatagramListener[] = [];
      for (const first of this.bound) {
        try {
          const d = await bindDatagram({ ...first.address, port: first.socket.address().port }, 'bind', true);
          stopReceiving(d.socket);
          own.add(d);
          out.push(d);
        } catch (err) {
          // Another program took the port meanwhile (SO_REUSEPORT asks the same user): share slot 1's.
          this.log.error({ worker: id }, `worker ${id}: no socket of its own on ${first.bound} (${errorMessage(err)}); it reads worker 1's`);
          out.push(first);
        }
      }
      return out;
    })();
    return { sockets, own };
  }

  /** Workers beyond `wanted` are draining (TTOU): close their slots' sockets (slot 1's never). */
  trim(wanted: number): void {
    if (!this.reusePort) return;
    for (const [id, slot] of this.slots) if (id > wanted && id > 1) this.release(id, slot);
  }

  /** Stop: close every socket the arbiter has (workers close their copies). */
  close(): void {
    this.closed = true;
    for (const [id, slot] of this.slots) this.release(id, slot);
  }

  private release(id: number, slot: Slot): void {
    this.slots.delete(id);
    void slot.sockets.then(() => { for (const d of slot.own) closeQuietly(d); });
  }
}
