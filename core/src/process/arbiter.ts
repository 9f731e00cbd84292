import { App, type InfoDocument } from '../plugins/app.js';
import { resolveSettings, type Discovery } from '../plugins/discovery.js';
import { openControl, type Control } from './control-socket.js';
import { StartupError, UsageError, errorMessage, type ErrorLocation } from '../errors.js';
import { releaseCompiler } from '../config/import-module.js';
import type { WorkerBoot } from './ipc.js';
import { coreSettings } from '../config/core-settings.js';
import { closeAll, listenAll, listeningMessage, type Listener } from '../net/listen.js';
import { stopReceiving, type NativeHandle } from '../net/native-handle.js';
import { bindDatagrams, type DatagramListener } from '../net/datagram.js';
import { unusedInherited } from '../activation.js';
import { createLogger, droppedLogLines, type Logger } from '../logger.js';
import { ServerMonitor, beatSeconds, type MonitorHost } from './monitor.js';
import { Pidfile } from './pidfile.js';
import { refuseDatagramMisuse, type StopMode } from './app-server.js';
import { ARBITER_SIGNALS, type ArbiterAction } from './signals.js';
import { version } from '../version.js';
import { SdNotify } from './sd-notify.js';
import { ORIGIN_BYTES } from './pubsub-redis.js';

/** Node >= 22.12 (or >= 23.1) lets several sockets listen on one port (SO_REUSEPORT). */
export function supportsReusePort(v = process.versions.node): boolean {
  const [major = 0, minor = 0] = v.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * The default way connections reach workers: workers accepting themselves, from `npm run bench`
 * (see the README). Where Node has SO_REUSEPORT, each worker has its own socket in the port's
 * group (the kernel spreads connections); elsewhere, and for unix sockets, every worker accepts
 * on the one socket (shared). Round-robin through the arbiter took ~0.4x the connections per second.
 */
export function defaultBalance(): 'shared' | 'reuse-port' {
  return supportsReusePort() ? 'reuse-port' : 'shared';
}

/** TTIN adds workers up to what the `workers` setting accepts. */
const MOST_WORKERS = coreSettings.workers.max;

/** The workers wanted after TTIN (+1) or TTOU (-1): never below one, never above MOST_WORKERS. */
export function resized(wanted: number, by: number): number {
  return Math.min(MOST_WORKERS, Math.max(1, wanted + by));
}

export interface ArbiterOptions {
  readonly cwd: string;
  /** The command line by long flag: workers resolve their settings from it too. */
  readonly cli: Readonly<Record<string, unknown>>;
  readonly builtinDirs: readonly string[];
  /** Discover config and plugins again (HUP), importing JavaScript modules afresh. */
  rediscover(): Promise<Discovery[]>;
}

/** Build each server's app in the arbiter: a bad config or plugin fails here, before any worker. */
async function createApps(discoveries: readonly Discovery[], cli: Readonly<Record<string, unknown>>): Promise<App[]> {
  const apps: App[] = [];
  for (const d of discoveries) apps.push(await App.create(d, resolveSettings(d, cli)));
  if (apps.length > 1) {
    const alone = apps.find((a) => a.cfg.workers === 0 || a.cfg.concurrency === 'thread');
    if (alone) throw new UsageError(`server ${alone.name}: workers 0 (serving in the arbiter) needs a config with one server; give it workers >= 1`);
  }
  const pidfiles = new Set(apps.map((a) => a.cfg.pidfile));
  if (pidfiles.size > 1) throw new UsageError('pidfile: one arbiter has one pidfile; set it at the top level of the config, not per server');
  return apps;
}

/**
 * The arbiter (gunicorn's): binds every server's addresses, runs `monitorStart`, keeps each
 * monitor's workers alive, and maps signals to actions. `run` resolves with the exit code
 * once a requested stop is complete.
 */
export class Arbiter implements MonitorHost {
  readonly log: Logger;
  readonly monitors: ServerMonitor[] = [];
  stopping = false;
  private readonly started = Date.now();
  private pidfile: Pidfile | undefined;
  private control: Control | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly handlers = new Map<string, () => void>();
  private finish: ((code: number) => void) | undefined;
  private failure: string | undefined;
  private failedAt: ErrorLocation | undefined;
  /** Start-up is over: workers are managed, and HUP, TTIN and TTOU act. */
  private up = false;
  private reloading = false;
  /** A HUP came during a reload: one more follows it. */
  private reloadAgain = false;
  /** Each server's session ticket keys and pub/sub origin, made once and kept across reloads (sessions resume on new workers too). */
  private readonly secrets = new Map<string | undefined, { ticketKeys: string; origin: string }>();
  /** systemd's Type=notify readiness, when NOTIFY_SOCKET is set. */
  private readonly notify: SdNotify;

  private constructor(private readonly apps: App[], private readonly opts: ArbiterOptions) {
    this.log = apps.length === 1 ? apps[0]!.log : createLogger(apps[0]!.cfg.log_level, 'arbiter', apps[0]!.cfg.log_format);
    this.notify = new SdNotify(this.log);
  }

  /** STATUS= for systemd: what is served, by how many workers. */
  private status(): string {
    return this.monitors.map((m) => `${m.name}: ${m.alive} worker${m.alive === 1 ? '' : 's'}`).join(', ');
  }

  static async create(discoveries: readonly Discovery[], opts: ArbiterOptions): Promise<Arbiter> {
    return new Arbiter(await createApps(discoveries, opts.cli), opts);
  }

  get name(): string {
    return this.monitors.map((m) => m.name).join(', ');
  }

  /** Serve until a signal stops us; the exit code. */
  async run(): Promise<number> {
    const exit = new Promise<number>((resolve) => { this.finish = resolve; });
    // Signals first: a stop asked for while binding or in monitorStart ends start-up there
    // (stop finds no worker and releases at once), with the pidfile removed and exit 0.
    for (const [signal, action] of Object.entries(ARBITER_SIGNALS)) {
      const handler = () => this.signal(signal, action);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
    const start = this.start();
    try {
      if (await Promise.race([start.then(() => false), exit.then(() => true)])) {
        start.catch(() => {}); // a step left running may still fail: nobody waits for it
        return await exit;
      }
    } catch (err) {
      await this.release();
      throw err;
    }
    this.up = true;
    this.control = await openControl(() => this.info(), this.log);
    this.ticker = setInterval(() => this.tick(), 250);
    for (const m of this.monitors) {
      m.manage();
      void m.serving.then(() => {
        releaseCompiler();
        m.log.info({ workers: m.wanted, pids: [...m.workers].map((w) => w.pid) },
          `serving ${m.name} with ${m.wanted} worker${m.wanted === 1 ? '' : 's'} (arbiter pid ${process.pid})`);
      });
    }
    void Promise.all(this.monitors.map((m) => m.serving)).then(() => { if (!this.stopping) this.notify.ready(this.status()); });
    const code = await exit;
    if (this.failure) throw new StartupError(this.failure, { location: this.failedAt });
    return code;
  }

  /** Pidfile, sockets, then each server's monitorStart. */
  private async start(): Promise<void> {
    const pidfile = this.apps[0]!.cfg.pidfile;
    if (pidfile) this.pidfile = Pidfile.create(pidfile);
    await this.bind();
    process.title = `ss arbiter [${this.name}]`;
    for (const m of this.monitors) if (!this.stopping) await m.app.hooks.monitorStart.promise(m.view());
  }

  /** Bind every address of every server, or none (docs/design.md §8: errors at once, exit 1). */
  private async bind(): Promise<void> {
    for (const app of this.apps) {
      const balance = app.cfg.balance === 'auto' ? defaultBalance() : app.cfg.balance;
      if (balance === 'reuse-port' && !supportsReusePort()) {
        throw new UsageError(`invalid ${app.discovery.registry.nameSource('balance', app.settings.sources.balance!)} "reuse-port": needs Node >= 22.12 (this is ${process.versions.node}); use shared`);
      }
      // Connections accepted before the monitor exists (between two binds) wait for it.
      let monitor: ServerMonitor | undefined;
      const early: NativeHandle[] = [];
      const onHandle = (h: NativeHandle) => (monitor ? monitor.route(h) : early.push(h));
      const setting = app.discovery.registry.nameSource('bind', app.settings.sources.bind!);
      const addresses = app.addresses(this.apps.length);
      const udp = addresses.filter((a) => a.kind === 'udp');
      refuseDatagramMisuse(app, udp, setting);
      let listeners: Listener[];
      let datagrams: DatagramListener[];
      try {
        listeners = await listenAll(addresses.filter((a) => a.kind !== 'udp'), app.cfg.backlog, () => {}, setting,
          { onHandle, ...(balance === 'reuse-port' ? { reusePort: 'new' as const } : {}) });
      } catch (err) {
        for (const h of early) h.close();
        throw err;
      }
      try {
        datagrams = await bindDatagrams(udp, setting, balance === 'reuse-port');
        // The arbiter keeps them for the workers, which read them (a replacement gets the same socket).
        for (const d of datagrams) stopReceiving(d.socket);
      } catch (err) {
        for (const h of early) h.close();
        await closeAll(listeners);
        throw err;
      }
      // Shared and reuse-port: workers take these sockets over (see ListenSlots).
      monitor = new ServerMonitor(this, app, app.discovery.server, listeners, balance, datagrams);
      this.monitors.push(monitor);
      for (const h of early) monitor.route(h);
      for (const l of listeners) app.log.info({ address: l.bound }, listeningMessage(l));
      for (const d of datagrams) app.log.info({ address: d.bound }, `listening on ${d.bound}`);
      for (const l of listeners) {
        if (balance === 'reuse-port' && l.inherited?.kind === 'tcp') {
          app.log.info({ address: l.bound }, `${l.address.text}: an inherited socket cannot be bound again for each worker (its port is not ours to bind): every worker accepts on it (shared)`);
        }
      }
    }
    const unused = unusedInherited(this.monitors.flatMap((m) => m.listeners.map((l) => l.address)));
    if (unused) this.log.warn(unused);
  }

  boot(monitor: ServerMonitor, id: number): WorkerBoot {
    const timeout = monitor.app.cfg.timeout;
    const discovery = monitor.app.discovery;
    return {
      cwd: this.opts.cwd, cli: this.opts.cli, builtinDirs: this.opts.builtinDirs, server: monitor.server,
      name: monitor.name, id, beat: beatSeconds(timeout),
      found: { configFile: discovery.config?.file ?? null, plugins: discovery.plugins.map((p) => p.resolution) },
      ...this.secretsOf(monitor.server),
    };
  }

  /** What the workers of one server share for its life, reloads included: TLS ticket keys, the pub/sub origin. */
  private secretsOf(server: string | undefined): { ticketKeys: string; origin: string } {
    let secrets = this.secrets.get(server);
    if (secrets === undefined) {
      const { randomBytes } = process.getBuiltinModule('node:crypto');
      // 48 bytes: TICKET_KEY_BYTES of net/tls.ts, not imported so that a plain server loads no node:tls.
      secrets = { ticketKeys: randomBytes(48).toString('base64'), origin: randomBytes(ORIGIN_BYTES).toString('hex') };
      this.secrets.set(server, secrets);
    }
    return secrets;
  }

  bootFailed(monitor: ServerMonitor, message: string, location?: ErrorLocation): void {
    this.failure = `server ${monitor.name}: ${message}`;
    this.failedAt = location;
    this.stop('quick');
  }

  private signal(signal: string, action: ArbiterAction): void {
    if (!this.up && action !== 'graceful' && action !== 'quick' && action !== 'reopen') {
      this.log.warn({ signal }, `${signal} ignored: still starting`);
      return;
    }
    this.log.info({ signal }, `${signal}: ${action === 'more' ? 'one worker more' : action === 'fewer' ? 'one worker fewer' : action === 'reopen' ? 'reopening log files' : action}`);
    switch (action) {
      case 'graceful': case 'quick': this.stop(action); break;
      case 'reload': void this.reload(); break;
      case 'more': this.resize(+1); break;
      case 'fewer': this.resize(-1); break;
      case 'reopen': for (const m of this.monitors) m.reopen(); break;
    }
  }

  private resize(by: number): void {
    if (this.stopping) return;
    for (const m of this.monitors) {
      const wanted = resized(m.wanted, by);
      if (wanted === m.wanted && by > 0) m.log.warn(`${m.name}: ${m.wanted} workers already, the most the workers setting allows: no worker more`);
      m.wanted = wanted;
      m.manage();
    }
  }

  /** HUP: reload; one that comes during a reload is done once that one is over. */
  private async reload(): Promise<void> {
    if (this.stopping) return;
    if (this.reloading) {
      if (!this.reloadAgain) this.log.info('a reload is under way: one more follows it');
      this.reloadAgain = true;
      return;
    }
    this.reloading = true;
    this.notify.reloading();
    try {
      do {
        this.reloadAgain = false;
        await this.reloadOnce();
      } while (this.reloadAgain && !this.stopping);
      // Ready again once every server serves the new config, or is back on the old one.
      await Promise.all(this.monitors.map((m) => m.reloadSettled()));
    } finally {
      this.reloading = false;
    }
    if (!this.stopping) this.notify.ready(this.status());
  }

  /**
   * Build the apps again from the config (modules imported afresh, so that a handler or plugin
   * that no longer loads fails here, before any worker is touched); if that works, each monitor
   * replaces its workers, new before old.
   */
  private async reloadOnce(): Promise<void> {
    let apps: App[];
    try {
      apps = await createApps(await this.opts.rediscover(), this.opts.cli);
    } catch (err) {
      const where = (err as { location?: ErrorLocation }).location;
      this.log.error(where ? { at: where.at } : {}, `reload failed, still serving the previous config: ${errorMessage(err)}`);
      return;
    }
    for (const app of apps) {
      const m = this.monitors.find((x) => x.server === app.discovery.server);
      if (!m) {
        this.log.warn(`server ${app.name} is new in the config: restart ss to start it`);
        continue;
      }
      const bound = [...m.listeners.map((l) => l.address.text), ...m.datagrams.map((d) => d.address.text)].join(' ');
      const wanted = app.addresses(this.apps.length);
      if ([...wanted.filter((a) => a.kind !== 'udp'), ...wanted.filter((a) => a.kind === 'udp')].map((a) => a.text).join(' ') !== bound) this.log.warn(`server ${m.name}: bind changed in the config; restart ss to listen there (still on ${bound})`);
      m.reload(app);
    }
    releaseCompiler();
  }

  /** Stop accepting and stop every worker; `run` resolves once they are all gone. */
  stop(mode: StopMode): void {
    if (this.stopping && mode === 'graceful') return;
    if (!this.stopping) this.notify.stopping();
    this.stopping = true;
    for (const m of this.monitors) m.stop(mode);
    this.exited();
  }

  /** A worker exited: when stopping and none is left, clean up and finish. */
  exited(): void {
    if (!this.stopping || this.monitors.some((m) => m.workers.size > 0)) return;
    void this.release().then(() => {
      this.log.info('stopped');
      this.finish?.(this.failure ? 1 : 0);
    });
  }

  private async release(): Promise<void> {
    clearInterval(this.ticker);
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
    await Promise.all(this.monitors.map((m) => closeAll(m.listeners)));
    await this.control?.close();
    this.pidfile?.remove();
    await this.notify.flushed();
  }

  /** The supervision loop's periodic part: heartbeats and overdue stops. */
  private tick(): void {
    const now = Date.now();
    for (const m of this.monitors) m.check(now);
  }

  /** The info document (docs/design.md §9): arbiter, monitors, workers, then each server's `info` taps. */
  async info(): Promise<InfoDocument> {
    const workers = (await Promise.all(this.monitors.map((m) => m.workerInfo()))).flat();
    let doc: InfoDocument = {
      arbiter: { pid: process.pid, name: this.name, uptime: (Date.now() - this.started) / 1000, version, state: this.stopping ? 'stopping' : this.reloading ? 'reloading' : 'running', droppedLogLines: droppedLogLines() },
      monitors: this.monitors.map((m) => ({
        name: m.name, addresses: [...m.listeners.map((l) => l.bound), ...m.datagrams.map((d) => d.bound)], workers: { wanted: m.wanted, alive: m.alive }, restarts: { ...m.restarts },
      })),
      workers,
    };
    for (const m of this.monitors) doc = await m.app.info(doc, 'arbiter');
    return doc;
  }
}
