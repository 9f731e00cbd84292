import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { noRestarts, type App, type WorkerInfo, type Monitor, type RestartReason, type WorkerFigures } from '../plugins/app.js';
import type { StatsSnapshot } from '../net/connection-set.js';
import { fromWorker, type FromWorker, type ToWorker, type WorkerBoot } from './ipc.js';
import { closeAll, type Listener } from '../net/listen.js';
import type { NativeHandle } from '../net/native-handle.js';
import type { Logger } from '../logger.js';
import { acceptGraceLine, type StopMode } from './app-server.js';
import { ListenSlots, type Balance } from './listen-slots.js';
import type { DatagramListener } from '../net/datagram.js';
import { DatagramSlots } from './datagram-slots.js';
import { RoundRobin, type RoutedWorker } from './round-robin.js';
import { forkWorker } from './fork-worker.js';
import { ArbiterRelay } from './pubsub-relay.js';
import { errorMessage, type ErrorLocation } from '../errors.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker.js', import.meta.url));
/** Workers that die during start-up this many times in a row stop the arbiter. */
export const MAX_BOOT_FAILURES = 3;
/** Seconds a worker that did not stop when asked gets beyond graceful_timeout before SIGKILL. */
const KILL_AFTER = 5;
const INFO_TIMEOUT_MS = 2000;
/** Restarts after failures wait longer each time in a row: 0, then 0.25 s doubling up to 30 s. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** Failures stop counting as "in a row" once every worker has served this long. */
const STABLE_MS = 10_000;

/** Seconds between a worker's heartbeats for a `timeout` (0: none). */
export function beatSeconds(timeout: number): number {
  return timeout > 0 ? Math.min(1, timeout / 4) : 0;
}

/** Wait before the next start after `failures` failures in a row. */
export function backoffMs(failures: number): number {
  return failures <= 1 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 2));
}

type State = 'booting' | 'ready' | 'draining';

/** The arbiter's view of one worker process. */
export class WorkerProcess implements RoutedWorker {
  state: State = 'booting';
  /** A replacement is wanted (max_requests reached, or a reload): drained once one is ready. */
  retiring = false;
  /** Why it is retiring, or why it was killed: counted as a restart once it is replaced. */
  replacedFor: RestartReason | undefined;
  lastBeat = Date.now();
  readonly started = Date.now();
  readyAt = 0;
  /** Connections sent to it that it has not said it took: the arbiter's copies stay open until then. */
  readonly unacked: NativeHandle[] = [];
  /** Why it failed to start, as it said, and where in the user's code. */
  failure: string | undefined;
  failedAt: ErrorLocation | undefined;
  /** Its counters as it last sent them (App.reportStats). */
  stats: StatsSnapshot | undefined;
  killAt = Infinity;
  /** Replaced by a reload: it serves the connections it has until they end (see ConnectionSet.shutdown). */
  lingering = false;

  constructor(readonly id: number, readonly child: ChildProcess, readonly beatMs: number) {}

  /** Its heartbeat is overdue (blocked or stopped): no connection goes to it meanwhile. */
  late(now: number): boolean {
    return this.beatMs > 0 && now - this.lastBeat > 2 * this.beatMs + 250;
  }

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
  boot(monitor: ServerMonitor, id: number): WorkerBoot;
  /** Every worker of a monitor failed to start MAX_BOOT_FAILURES times in a row. */
  bootFailed(monitor: ServerMonitor, message: string, location?: ErrorLocation): void;
  /** A worker has exited (the arbiter checks whether a stop is complete). */
  exited(): void;
}

/**
 * One server in the arbiter (docs/design.md §8): its bound sockets and `workers` processes kept
 * alive. Connections the arbiter accepts go to ready workers in turn; with shared or reuse-port,
 * workers also accept on their own listeners.
 */
export class ServerMonitor {
  readonly workers = new Set<WorkerProcess>();
  wanted: number;
  /** Consecutive workers that died before ready (the first start only: MAX_BOOT_FAILURES stops the arbiter). */
  bootFailures = 0;
  /** Workers that failed (crashed, or did not start) in a row: the wait before the next start grows. */
  private failures = 0;
  /** During a reload: what served before it, restored if the new workers cannot start. */
  private reloadFrom: { app: App; wanted: number; workers: Map<WorkerProcess, boolean> } | undefined;
  /** Waiting for the reload under way to be over (replaced or abandoned). */
  private reloadWaiters: (() => void)[] = [];
  /** The ready workers, and where the arbiter's accepted connections go (see RoundRobin). */
  private readonly roundRobin: RoundRobin<WorkerProcess>;
  /** Pub/sub between this server's workers (docs/design.md §15). */
  private readonly relay = new ArbiterRelay();
  private respawnAt = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  /** A graceful stop waiting out accept_grace (see `stop`). */
  private quiescing = false;
  private graceTimer: NodeJS.Timeout | undefined;
  /** Shared and reuse-port: the listening sockets workers accept on themselves. */
  private readonly slots: ListenSlots | undefined;
  /** Workers that exited while their channel was open: what they sent last may still come. */
  private readonly leaving = new Set<WorkerProcess>();
  private readonly exitListeners: ((gone: WorkerFigures) => void)[] = [];
  private infoRequests = new Map<number, (info: WorkerInfo) => void>();
  private nextRequest = 0;
  private firstReady: (() => void) | undefined;
  /** Until then: the ready workers taking their listening sockets over. */
  private takingOver: Promise<void>[] = [];
  private readonly datagramSlots: DatagramSlots;
  /** Settles once `wanted` workers were ready together for the first time. */
  readonly serving: Promise<void>;
  /** Workers replaced since start, by why. */
  readonly restarts: Record<RestartReason, number> = noRestarts();

  constructor(
    private readonly host: MonitorHost,
    public app: App,
    readonly server: string | undefined,
    readonly listeners: readonly Listener[],
    balance: Balance,
    /** udp:// sockets as bound at start: the arbiter keeps them, not reading, for the workers (see DatagramSlots). */
    readonly datagrams: readonly DatagramListener[] = [],
  ) {
    this.datagramSlots = new DatagramSlots(balance === 'reuse-port', datagrams, app.log);
    this.wanted = app.cfg.workers;
    this.serving = new Promise((resolve) => { this.firstReady = resolve; });
    this.roundRobin = new RoundRobin({ stopping: () => this.host.stopping, backlog: () => this.app.cfg.backlog });
    this.route = this.roundRobin.route;
    if (balance !== 'round-robin') this.slots = new ListenSlots(balance, listeners, app.cfg.backlog, this.route, this.log);
  }

  get name(): string { return this.app.name; }
  get log(): Logger { return this.app.log; }
  /** Workers serving now (during a replacement, briefly more than wanted). */
  get alive(): number { return this.roundRobin.ready.length; }

  /** What `monitorStart` taps get. */
  view(): Monitor {
    return {
      name: this.name, app: this.app, cfg: this.app.cfg, addresses: [...this.listeners.map((l) => l.bound), ...this.datagrams.map((d) => d.bound)],
      workers: () => this.workerInfo(), restarts: this.restarts,
      figures: () => this.figures(), onWorkerExit: (listener) => { this.exitListeners.push(listener); },
    };
  }

  /** The counters each worker last sent, those that exited included until the exit listeners had them. */
  figures(): WorkerFigures[] {
    const out: WorkerFigures[] = [];
    for (const w of [...this.workers, ...this.leaving]) if (w.stats) out.push({ id: w.id, pid: w.pid, stats: w.stats });
    return out;
  }

  /** A connection the arbiter accepted: to the next ready worker (see RoundRobin). */
  readonly route: (handle: NativeHandle) => void;

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
      else if (current.some((w) => w.state === 'ready')) {
        for (const w of slot) {
          if (!w.retiring) continue;
          this.restarts[w.replacedFor ?? 'reload']++;
          this.drain(w, 'graceful', (w.replacedFor ?? 'reload') === 'reload');
        }
      }
    }
    for (const w of this.workers) if (w.id > this.wanted && w.state !== 'draining') this.drain(w, 'graceful');
    this.datagramSlots.trim(this.wanted);
    const from = this.reloadFrom;
    if (from && ![...from.workers.keys()].some((w) => this.workers.has(w) && w.state !== 'draining')) {
      this.reloadFrom = undefined;
      this.log.info(`${this.name}: reloaded, every worker runs the new config`);
      this.reloadOver();
    }
  }

  /**
   * HUP: serve `app` from now on. Every worker is replaced, new before old; until the new ones
   * are ready the old ones serve, and if one of the new ones fails to start they stay.
   */
  reload(app: App): void {
    this.reloadFrom ??= { app: this.app, wanted: this.wanted, workers: new Map([...this.workers].map((w) => [w, w.retiring])) };
    this.app = app;
    this.wanted = app.cfg.workers;
    // A reload is a new start: no back-off left from failures of the config it replaces.
    this.failures = 0;
    this.respawnAt = 0;
    clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
    for (const w of this.workers) {
      w.retiring = true;
      w.replacedFor = 'reload';
    }
    this.manage();
  }

  /** Resolves once no reload is under way: every worker runs the new config, or the old one is back. */
  reloadSettled(): Promise<void> {
    if (this.reloadFrom === undefined || this.host.stopping) return Promise.resolve();
    return new Promise((resolve) => this.reloadWaiters.push(resolve));
  }

  private reloadOver(): void {
    for (const resolve of this.reloadWaiters.splice(0)) resolve();
  }

  /** A new worker of a reload failed to start: back to what served before, once. */
  private abandonReload(why: string, at: { at?: string }): void {
    const from = this.reloadFrom!;
    this.reloadFrom = undefined;
    this.reloadOver();
    this.log.error(at, `reload failed, still serving the previous config: ${why}`);
    this.app = from.app;
    this.wanted = from.wanted;
    for (const w of this.workers) {
      if (from.workers.has(w)) w.retiring = from.workers.get(w)!;
      else if (w.state === 'booting') this.drain(w, 'quick');
    }
  }

  private spawn(id: number): void {
    const now = Date.now();
    if (now < this.respawnAt) {
      // After a failed start, wait a little before the next try.
      this.respawnTimer ??= setTimeout(() => { this.respawnTimer = undefined; this.manage(); }, this.respawnAt - now);
      return;
    }
    const child = forkWorker(WORKER_MAIN, this.log);
    const boot = this.host.boot(this, id);
    const worker = new WorkerProcess(id, child, boot.beat * 1000);
    this.workers.add(worker);
    child.on('message', (raw: unknown, handle?: unknown) => {
      const m = fromWorker(raw);
      // Only `kept` carries a handle, and a raw one (a plugin could send a net.Socket or a net.Server).
      if (m === undefined || (m.t === 'kept') !== (handle !== undefined) || (handle !== undefined && !isNative(handle))) {
        if (handle !== undefined) discard(handle);
        this.log.warn({ worker: id, workerPid: child.pid }, `worker ${id} (pid ${child.pid}) sent a message that is not ours: ignored (${describe(raw, handle)})`);
      } else if (m.t === 'kept') {
        if (this.slots) this.slots.kept(worker, handle as NativeHandle);
        else (handle as NativeHandle).close();
      } else this.message(worker, m);
    });
    child.on('error', () => {}); // a send to a dying worker; its 'exit' follows
    child.once('exit', (code, signal) => this.exited(worker, code, signal));
    worker.send({ t: 'boot', boot });
    this.log.debug({ worker: id, workerPid: child.pid }, `worker ${id} starting (pid ${child.pid})`);
  }

  private message(worker: WorkerProcess, m: FromWorker): void {
    switch (m.t) {
      case 'beat':
        worker.lastBeat = Date.now();
        this.roundRobin.flush(); // it may have been late
        break;
      case 'took':
        this.roundRobin.took(worker, m.n);
        break;
      case 'ready':
        worker.lastBeat = Date.now();
        if (worker.state !== 'booting') break;
        worker.state = 'ready';
        if (this.quiescing) worker.send({ t: 'quiesce' });
        worker.readyAt = Date.now();
        this.bootFailures = 0;
        this.roundRobin.add(worker);
        this.relay.joined(worker);
        this.log.info({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} ready (pid ${worker.pid})`);
        if (worker.id <= this.wanted) void this.datagramSlots.give(worker);
        if (this.slots && worker.id <= this.wanted) {
          const accepting = this.slots.serve(worker);
          if (this.firstReady) this.takingOver.push(accepting);
        }
        this.roundRobin.flush();
        this.manage();
        if (this.firstReady && this.roundRobin.ready.length >= this.wanted) {
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
        worker.replacedFor = 'max_requests';
        this.manage();
        break;
      case 'info':
        this.infoRequests.get(m.req)?.(m.info);
        break;
      case 'stats':
        worker.stats = m.stats;
        break;
      case 'failed':
        worker.failure = m.message;
        worker.failedAt = m.location;
        break;
      case 'ps':
        this.relay.received(worker, m);
        break;
    }
  }

  /**
   * Stop sending it connections and ask it to stop; SIGKILL if it has not after graceful_timeout.
   * With `linger` (a reload), it keeps its open connections until they end or graceful_timeout
   * is up; a stop meanwhile cuts that short.
   */
  drain(worker: WorkerProcess, mode: StopMode, linger = false): void {
    if (worker.state === 'draining' && mode === 'graceful' && (linger || !worker.lingering)) return;
    worker.lingering = linger;
    worker.state = 'draining';
    this.roundRobin.remove(worker);
    const grace = mode === 'graceful' ? this.app.cfg.graceful_timeout : 0;
    worker.killAt = Math.min(worker.killAt, Date.now() + (grace + KILL_AFTER) * 1000);
    this.log.debug({ worker: worker.id, workerPid: worker.pid }, `worker ${worker.id} (pid ${worker.pid}): stopping (${mode})`);
    worker.send(linger ? { t: 'stop', mode, linger } : { t: 'stop', mode });
    this.slots?.left(worker); // it closes its listening sockets at once
  }

  private exited(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    this.retire(worker);
    this.roundRobin.remove(worker);
    this.slots?.left(worker);
    this.relay.left(worker);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const ids = { worker: worker.id, workerPid: worker.pid };
    if (worker.state === 'draining' || this.host.stopping) {
      this.log.debug(ids, `worker ${worker.id} (pid ${worker.pid}) stopped`);
    } else if (worker.state === 'booting') {
      const why = worker.failure ?? `exited with ${how} before it was ready`;
      const failed = `worker ${worker.id} (pid ${worker.pid}) failed to start: ${why}`;
      // Where in the user's code, in each log line; under the final error, once.
      const at = worker.failedAt ? { at: worker.failedAt.at } : {};
      if (this.firstReady) {
        // The first start: a config that cannot start stops the arbiter rather than loop.
        this.log.error({ ...ids, ...at }, failed);
        if (++this.bootFailures >= MAX_BOOT_FAILURES) {
          this.host.bootFailed(this, `worker failed to start ${this.bootFailures} times in a row: ${why}`, worker.failedAt);
          return;
        }
      } else if (this.reloadFrom && !this.reloadFrom.workers.has(worker)) {
        this.abandonReload(failed, at);
      } else {
        this.log.error({ ...ids, ...at }, failed); // already serving: a database down for a while must not stop us
        this.restarts.crash++;
      }
      this.backOff();
    } else {
      if (worker.replacedFor !== 'timeout') this.log.warn(ids, `worker ${worker.id} (pid ${worker.pid}) exited with ${how}: replacing it`);
      this.restarts[worker.replacedFor === 'timeout' ? 'timeout' : 'crash']++;
      this.backOff();
    }
    // Connections it never took go to another worker.
    this.roundRobin.reroute(worker);
    this.manage();
    this.host.exited();
  }

  /**
   * Give a worker that exited to the exit listeners with its last counters, once its channel has
   * delivered all it sent: the exit may be seen before the final report is read.
   */
  private retire(worker: WorkerProcess): void {
    const done = () => {
      this.leaving.delete(worker);
      const stats = worker.stats;
      if (stats === undefined) return;
      for (const listener of this.exitListeners) {
        try {
          listener({ id: worker.id, pid: worker.pid, stats });
        } catch (err) {
          this.log.error({ err }, `${this.name}: a worker exit listener failed: ${errorMessage(err)}`);
        }
      }
    };
    if (!worker.child.connected) return done();
    this.leaving.add(worker);
    worker.child.once('disconnect', done);
  }

  /** One more failure in a row: the next start waits backoffMs (logged when it does). */
  private backOff(): void {
    const wait = backoffMs(++this.failures);
    this.respawnAt = Date.now() + wait;
    if (wait > 0) {
      this.log.warn({ failures: this.failures, backoff: wait / 1000 },
        `${this.name}: ${this.failures} worker failures in a row: next start in ${wait / 1000}s`);
    }
  }

  /** Kill workers whose heartbeat stopped (blocked event loop) or that outstayed a stop. */
  check(now: number): void {
    if (this.failures > 0 && this.roundRobin.ready.length >= this.wanted && this.roundRobin.ready.every((w) => now - w.readyAt >= STABLE_MS)) this.failures = 0;
    const cfg = this.app.cfg;
    const timeout = cfg.timeout * 1000;
    // Loading plugins may take a while on a busy machine: start-up has plugin_timeout as well.
    const bootTimeout = timeout + cfg.plugin_timeout * 1000;
    for (const w of this.workers) {
      const late = now >= w.killAt;
      if (!late && !(timeout > 0 && now - w.lastBeat > (w.state === 'booting' ? bootTimeout : timeout))) continue;
      if (w.state !== 'draining') w.replacedFor = 'timeout';
      w.killAt = Infinity;
      w.lastBeat = Infinity; // once
      this.roundRobin.remove(w);
      // Killed first, logged after: nothing may stand between the watchdog and its kill.
      try { w.child.kill('SIGKILL'); } catch { /* gone */ }
      const ids = { worker: w.id, workerPid: w.pid };
      if (late) this.log.warn(ids, `worker ${w.id} (pid ${w.pid}) did not stop in time: killed`);
      else this.log.error(ids, `worker ${w.id} (pid ${w.pid}) silent for ${cfg.timeout}s (event loop blocked?): killed, replacing it`);
    }
  }

  /**
   * USR1: this server's plugins reopen their log files, here and in every worker; a booting one
   * too, as it may have opened its files in workerStart already (it reopens once started).
   */
  reopen(): void {
    this.app.hooks.reopen.call();
    for (const w of this.workers) w.send({ t: 'reopen' });
  }

  /**
   * Stop every worker; returns at once (the arbiter waits for `workers` to empty). A graceful
   * stop with accept_grace first goes on accepting for that long, its workers refusing health
   * checks, so a load balancer has stopped sending by the time the listeners close.
   */
  stop(mode: StopMode): void {
    clearTimeout(this.graceTimer);
    const grace = this.app.cfg.accept_grace;
    if (mode === 'graceful' && grace > 0 && !this.quiescing && this.firstReady === undefined) {
      this.quiescing = true;
      this.log.info(`${this.name}: ${acceptGraceLine(grace)}`);
      for (const w of this.workers) if (w.state === 'ready') w.send({ t: 'quiesce' });
      this.graceTimer = setTimeout(() => this.stopNow('graceful'), grace * 1000);
      return;
    }
    this.stopNow(mode);
  }

  private stopNow(mode: StopMode): void {
    void closeAll(this.listeners);
    this.datagramSlots.close();
    this.reloadOver();
    clearTimeout(this.respawnTimer);
    this.roundRobin.close();
    this.slots?.close();
    for (const w of this.workers) this.drain(w, mode);
  }

  /** Every worker's entry for info (a worker that does not answer in time is listed as such). */
  async workerInfo(): Promise<WorkerInfo[]> {
    return Promise.all([...this.workers].map((w) => {
      const base = { server: this.name, id: w.id, pid: w.pid, uptime: (Date.now() - w.started) / 1000 };
      if (w.state === 'booting') return Promise.resolve<WorkerInfo>({ ...base, state: 'booting' });
      return new Promise<WorkerInfo>((resolve) => {
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

/** A short description of a message that is not ours, for the log. */
function describe(m: unknown, handle: unknown): string {
  if (m === null || typeof m !== 'object') return m === null ? 'null' : typeof m;
  const t = (m as { t?: unknown }).t;
  if (typeof t !== 'string') return 'an object without a known "t"';
  return fromWorker(m) ? `"${t.slice(0, 20)}" with ${handle === undefined ? 'no handle' : 'a handle it cannot have'}` : `"${t.slice(0, 20)}" without the fields it needs`;
}

/** A handle as our workers send it (a listening socket's own handle), not a net object. */
function isNative(handle: unknown): handle is NativeHandle {
  const h = handle as { close?: unknown; on?: unknown };
  return typeof h.close === 'function' && typeof h.on !== 'function';
}

/** Close a handle a worker should not have sent, whatever Node made of it. */
function discard(handle: unknown): void {
  const h = handle as { destroy?: () => void; close?: () => void };
  try {
    if (typeof h.destroy === 'function') h.destroy();
    else h.close?.();
  } catch { /* closed already */ }
}
