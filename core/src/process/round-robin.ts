import type { ToWorker } from './ipc.js';
import type { NativeHandle } from '../net/native-handle.js';

/** Connections sent to a worker and not yet taken (acknowledged) by it: beyond this, others get them. */
export const MAX_UNACKED = 32;

/** What round-robin needs of a worker process. */
export interface RoutedWorker {
  /** Connections sent to it that it has not said it took: the arbiter's copies stay open until then. */
  readonly unacked: NativeHandle[];
  readonly child: { readonly connected: boolean };
  /** Its heartbeat is overdue (blocked or stopped). */
  late(now: number): boolean;
  send(message: ToWorker, handle?: NativeHandle, done?: (err: Error | null) => void): void;
}

/**
 * Connections the arbiter accepts, handed to ready workers in turn: every connection with
 * balance round-robin, and with shared or reuse-port those accepted while the arbiter accepts
 * on a socket itself (see ListenSlots). Each is sent as its native handle; the arbiter keeps its
 * copy until the worker says it took it, so a worker that dies first loses none.
 */
export class RoundRobin<W extends RoutedWorker> {
  private workers: W[] = [];
  private next = 0;
  /** Connections accepted while no worker was ready (start-up, or every worker died). */
  private held: NativeHandle[] = [];

  constructor(private readonly limits: {
    /** Once stopping, what is accepted is closed. */
    readonly stopping: () => boolean;
    /** The most connections held. */
    readonly backlog: () => number;
  }) {}

  /** The workers taking connections, in the order they became ready. */
  get ready(): readonly W[] { return this.workers; }

  /**
   * A connection the arbiter accepted: hand it to the next ready worker that keeps up (its
   * heartbeat on time, fewer than MAX_UNACKED connections not yet taken), else hold it
   * (at most `backlog`) until one does.
   */
  readonly route = (handle: NativeHandle): void => {
    if (this.limits.stopping()) {
      handle.close();
      return;
    }
    const worker = this.pick(Date.now());
    if (worker === undefined) {
      if (this.held.length >= this.limits.backlog()) handle.close();
      else this.held.push(handle);
      return;
    }
    // Our copy stays open until the worker says it took it: if it dies first, another worker gets it.
    worker.unacked.push(handle);
    worker.send({ t: 'conn' }, handle, (err) => {
      if (!err) return;
      const i = worker.unacked.indexOf(handle);
      if (i >= 0) this.route(worker.unacked.splice(i, 1)[0]!);
    });
  };

  private pick(now: number): W | undefined {
    for (let tries = 0; tries < this.workers.length; tries++) {
      const w = this.workers[this.next++ % this.workers.length]!;
      if (w.child.connected && w.unacked.length < MAX_UNACKED && !w.late(now)) return w;
    }
    return undefined;
  }

  /** Route the held connections again (a worker became ready, took some, or beat again). */
  flush(): void {
    for (const handle of this.held.splice(0)) this.route(handle);
  }

  /** A worker is ready: it gets its turn from now on. */
  add(worker: W): void {
    this.workers.push(worker);
  }

  /** A worker drains, was killed or exited: no more connections for it. */
  remove(worker: W): void {
    this.workers = this.workers.filter((w) => w !== worker);
  }

  /** It took its first `n` connections not yet taken: the arbiter's copies close. */
  took(worker: W, n: number): void {
    for (const handle of worker.unacked.splice(0, n)) handle.close();
    this.flush();
  }

  /** It exited: the connections it never took go to another worker. */
  reroute(worker: W): void {
    for (const handle of worker.unacked.splice(0)) this.route(handle);
  }

  /** Stop: close the connections held. */
  close(): void {
    for (const handle of this.held.splice(0)) handle.close();
  }
}
