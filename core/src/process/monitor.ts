import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { App, Info, Monitor as MonitorView } from '../plugins/app.js';
import type { FromWorker, ToWorker, WorkerBoot } from './ipc.js';
import type { Listener, NativeHandle } from '../net/listen.js';
import type { Logger } from '../logger.js';
import type { StopMode } from './app-server.js';
import { ListenSlots, type Balance } from './reuse-port-slots.js';
import { forkWorker } from './fork-worker.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker.js', import.meta.url));
/** Workers that die during start-up this many times in a row stop the arbiter. */
export const MAX_BOOT_FAILURES = 3;
/** Seconds a worker that did not stop when asked gets beyond graceful_timeout before SIGKILL. */
const KILL_AFTER = 5;
const INFO_TIMEOUT_MS = 2000;

type State = 'booting' | 'ready' | 'draining';

/** The arbiter's view of one worker process. */
export class WorkerProcess {
  state: State = 'booting';
  /** A replacement is wanted (max_requests reached, or a reload): drained once one is ready. */
  retiring = false;
  lastBeat = Date.now();
  readonly started = Date.now();
  /** Why it failed to start, as it said. */
  failure: string | undefined;
  killAt = Infinity;

  constructor(readonly id: number, readonly child: ChildProcess) {}

  get pid(): number { return this.child.pid!; }

  send(message: ToWorker, handle?: NativeHandle, done?: (err: Error | null) => void): void {
    if (!this.child.connected) {
      done?.(new Error('worker gone'));
      return;
    }
    this.child.send(message, handle as never, done ?? (() => {}));
  }
}

export interface MonitorHost {
  readonly log: Logger;
  readonly stopping: boolean;
  /** Build the boot message of a worker of this monitor. */
  boot(monitor: Monitor, id: number): WorkerBoot;
  /** Every worker of a monitor failed to start MAX_BOOT_FAILURES times in a row. */
  bootFailed(monitor: Monitor, message: string): void;
  /** A worker has exited (the arbiter checks whether a stop is complete). */
  exited(): void;
}

/**
 * One server in the arbiter (design §8): its bound sockets and `workers` processes kept
 * alive. Connections the arbiter accepts go to ready workers in turn; with reuse-port,
 * workers also accept on their own listeners.
 */
export class Monitor {
  readonly workers = new Set<WorkerProcess>();
  wanted: number;
  /** Consecutive workers that died before ready. */
  bootFailures = 0;
  private ready: WorkerProcess[] = [];
  private next = 0;
  /** Connections accepted while no worker was ready (start-up, or every worker died). */
  private held: NativeHandle[] = [];
  private respawnAt = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  /** Shared and reuse-port: the listening sockets workers accept on themselves. */
  private readonly slots: ListenSlots | undefined;
  private infoRequests = new Map<number, (info: Info) => void>();
  private nextRequest = 0;
  private firstReady: (() => void) | undefined;
  /** Until then: the ready workers taking their reuse-port sockets over. */
  private takingOver: Promise<void>[] = [];
  /** Settles once `wanted` workers were ready together for the first time. */
  readonly serving: Promise<void>;

  constructor(
    private readonly host: MonitorHost,
    public app: App,
    readonly server: string | undefined,
    readonly listeners: readonly Listener[],
    balance: Balance,
  ) {
    this.wanted = app.cfg.workers;
    this.serving = new Promise((resolve) => { this.firstReady = resolve; });
    if (balance !== 'round-robin') this.slots = new ListenSlots(balance, listeners, app.cfg.backlog, this.route, this.log);
  }

  get name(): string { return this.app.name; }
  get log(): Logger { return this.app.log; }
  /** Workers serving now (during a replacement, briefly more than wanted). */
  get alive(): number { return this.ready.length; }

  /** What `monitorStart` taps get. */
  view(): MonitorView {
    return { name: this.name, app: this.app, cfg: this.app.cfg, addresses: this.listeners.map((l) => l.bound) };
  }

  /** A connection the arbiter accepted: hand it to the next ready worker. */
  readonly route = (handle: NativeHandle): void => {
    let worker: WorkerProcess | undefined;
    while (this.ready.length > 0) {
      worker = this.ready[this.next++ % this.ready.length]!;
      if (worker.child.connected) break;
      this.unready(worker); // dying: its 'exit' follows
      worker = undefined;
    }
    if (worker === undefined) {
      if (this.held.length >= this.app.cfg.backlog) handle.close();
      else this.held.push(handle);
      return;
    }
    worker.send({ t: 'conn' }, handle, (err) => {
      // Sent: the worker holds its own descriptor now. Not sent (that worker just died): another takes it.
      if (err) this.route(handle);
      else handle.close();
    });
  };

  private unready(worker: WorkerProcess): void {
    this.ready = this.ready.filter((w) => w !== worker);
  }

  /**
   * Bring the workers in line with `wanted` (gunicorn's manage_workers): start a worker in
   * each empty slot, drain a retiring worker once its slot has a ready replacement, and
   * drain workers beyond `wanted`.
   */
  manage(): void {
    if (this.host.stopping) return;
    for (let id = 1; id <= this.wanted; id++) {
      const slot = [...this.workers].filter((w) => w.id === id && w.state !== 'draining');
      const current = slot.filter((w) => !w.retiring);
      if (current.length === 0) this.spawn(id);
      else if (current.some((w) => w.state === 'ready')) for (const w of slot) if (w.retiring) this.drain(w, 'graceful');
    }
    for (const w of this.workers) if (w.id > this.wanted && w.state !== 'draining') this.drain(w, 'graceful');
  }

  private spawn(id: number): void {
    const now = Date.now();
    if (now < this.respawnAt) {
      // After a failed start, wait a little before the next try.
      this.respawnTimer ??= setTimeout(() => { this.respawnTimer = undefined; this.manage(); }, this.respawnAt - now);
      return;
    }
    const child = forkWorker(WORKER_MAIN, this.log);
    const worker = new WorkerProcess(id, child);
    this.workers.add(worker);
    child.on('message', (m: FromWorker, handle?: NativeHandle) => {
      if (m.t === 'kept' && handle) {
        if (this.slots) this.slots.kept(worker, handle);
        else handle.close();
      } else this.message(worker, m);
    });
    child.on('error', () => {}); // a send to a dying worker; its 'exit' follows
    child.once('exit', (code, signal) => this.exited(worker, code, signal));
    worker.send({ t: 'boot', boot: this.host.boot(this, id) });
    this.log.debug({ worker: id, workerPid: child.pid }, `worker ${id} starting (pid ${child.pid})`);
  }

  private message(worker: WorkerProcess, m: FromWorker): void {
    switch (m.t) {
      case 'beat':
        worker.lastBeat = Date.now();
        break;
      case 'ready':
        worker.lastBeat = Date.now();
        if (worker.state !== 'booting') break;
        worker.state = 'ready';
        this.bootFailures = 0;
        this.ready.push(worker);
        this.log.info({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} ready (pid ${worker.pid})`);
        if (this.slots && worker.id <= this.wanted) {
          const accepting = this.slots.serve(worker);
          if (this.firstReady) this.takingOver.push(accepting);
        }
        for (const handle of this.held.splice(0)) this.route(handle);
        this.manage();
        if (this.firstReady && this.ready.length >= this.wanted) {
          const serving = this.firstReady;
          this.firstReady = undefined;
          void Promise.all(this.takingOver.splice(0)).then(() => serving());
        }
        break;
      case 'retire':
        if (worker.retiring || worker.state === 'draining') break;
        this.log.info({ worker: worker.id, workerPid: worker.pid, requests: m.requests },
          `worker ${worker.id} (pid ${worker.pid}) served ${m.requests} requests (max_requests): replacing it`);
        worker.retiring = true;
        this.manage();
        break;
      case 'info':
        this.infoRequests.get(m.req)?.(m.info);
        break;
      case 'failed':
        worker.failure = m.message;
        break;
    }
  }

  /** Stop sending it connections and ask it to stop; SIGKILL if it has not after graceful_timeout. */
  drain(worker: WorkerProcess, mode: StopMode): void {
    if (worker.state === 'draining' && mode === 'graceful') return;
    worker.state = 'draining';
    this.unready(worker);
    const grace = mode === 'graceful' ? this.app.cfg.graceful_timeout : 0;
    worker.killAt = Math.min(worker.killAt, Date.now() + (grace + KILL_AFTER) * 1000);
    this.log.debug({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} (pid ${worker.pid}): stopping (${mode})`);
    worker.send({ t: 'stop', mode });
    this.slots?.left(worker); // it closes its listening sockets at once
  }

  private exited(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    this.unready(worker);
    this.slots?.left(worker);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (worker.state === 'booting' && !this.host.stopping) {
      this.bootFailures++;
      const why = worker.failure ?? `exited with ${how} before it was ready`;
      this.log.error({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} (pid ${worker.pid}) failed to start: ${why}`);
      if (this.bootFailures >= MAX_BOOT_FAILURES) {
        this.host.bootFailed(this, `worker failed to start ${this.bootFailures} times in a row: ${why}`);
        return;
      }
      this.respawnAt = Date.now() + 250 * this.bootFailures;
    } else if (worker.state !== 'draining' && !this.host.stopping) {
      this.log.warn({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} (pid ${worker.pid}) exited with ${how}: replacing it`);
    } else {
      this.log.debug({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} (pid ${worker.pid}) stopped`);
    }
    this.manage();
    this.host.exited();
  }

  /** Kill workers whose heartbeat stopped (blocked event loop) or that outstayed a stop. */
  check(now: number): void {
    const cfg = this.app.cfg;
    const timeout = cfg.timeout * 1000;
    // Loading plugins may take a while on a busy machine: start-up has plugin_timeout as well.
    const bootTimeout = timeout + cfg.plugin_timeout * 1000;
    for (const w of this.workers) {
      if (now >= w.killAt) {
        this.log.warn({ worker: w.id, workerPid: w.pid }, `worker ${w.id} (pid ${w.pid}) did not stop in time: killed`);
      } else if (timeout > 0 && now - w.lastBeat > (w.state === 'booting' ? bootTimeout : timeout)) {
        this.log.error({ worker: w.id, workerPid: w.pid },
          `worker ${w.id} (pid ${w.pid}) silent for ${this.app.cfg.timeout}s (event loop blocked?): killed, replacing it`);
      } else continue;
      w.killAt = Infinity;
      w.lastBeat = Infinity; // once
      this.unready(w);
      try { w.child.kill('SIGKILL'); } catch { /* gone */ }
    }
  }

  /** Stop every worker; resolves at once (the arbiter waits for `workers` to empty). */
  stop(mode: StopMode): void {
    clearTimeout(this.respawnTimer);
    for (const handle of this.held.splice(0)) handle.close();
    this.slots?.close();
    for (const w of this.workers) this.drain(w, mode);
  }

  /** Every worker's entry for info (a worker that does not answer in time is listed as such). */
  async workerInfo(): Promise<Info[]> {
    return Promise.all([...this.workers].map((w) => {
      const base = { server: this.name, id: w.id, pid: w.pid, uptime: (Date.now() - w.started) / 1000 };
      if (w.state === 'booting') return { ...base, state: 'booting' };
      return new Promise<Info>((resolve) => {
        const req = ++this.nextRequest;
        const timer = setTimeout(() => {
          this.infoRequests.delete(req);
          resolve({ ...base, state: 'not answering' });
        }, INFO_TIMEOUT_MS);
        this.infoRequests.set(req, (info) => {
          clearTimeout(timer);
          this.infoRequests.delete(req);
          resolve({ ...info, state: w.state === 'draining' ? 'draining' : w.retiring ? 'retiring' : 'running' });
        });
        w.send({ t: 'info', req });
      });
    }));
  }
}
