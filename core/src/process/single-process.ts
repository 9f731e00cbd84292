import { noRestarts, type App, type InfoDocument, type Monitor, type Worker, type WorkerInfo } from '../plugins/app.js';
import { infoJson } from './ipc.js';
import { openControl, type Control } from './control-socket.js';
import { bindDatagrams, closeQuietly, type DatagramListener } from '../net/datagram.js';
import { closeAll, listenAll, listeningMessage, type Listener } from '../net/listen.js';
import { unusedInherited } from '../activation.js';
import { Pidfile } from './pidfile.js';
import type { ConnectionSet } from '../net/connection-set.js';
import { acceptGraceLine, AppServer, refuseDatagramMisuse, type StopMode } from './app-server.js';
import { version } from '../version.js';
import { droppedLogLines } from '../logger.js';
import { errorMessage } from '../errors.js';
import { SdNotify } from './sd-notify.js';
import { SINGLE_PROCESS_SIGNALS } from './signals.js';

export type { StopMode };

export interface Running {
  readonly listeners: readonly Listener[];
  readonly server: ConnectionSet;
  readonly worker: Worker;
  /** The info document (docs/design.md §9) through the `info` hook. */
  info(): Promise<InfoDocument>;
  stop(mode: StopMode): Promise<void>;
  /** Settles when the server has stopped. */
  readonly stopped: Promise<void>;
}

/**
 * Serve `app` in this process (workers 0): bind every address (failing at once if one
 * is taken), run `monitorStart` then `workerStart`, then accept. With `signals`, the
 * SINGLE_PROCESS_SIGNALS table stops it, from the start: a stop asked for while binding or in
 * a start-up hook ends start-up there (without waiting for a hook that hangs), removes the
 * pidfile, and `stopped` settles.
 */
export async function serve(app: App, { signals = true } = {}): Promise<Running> {
  return new SingleProcess(app, signals).serve();
}

/** A server serving in its own process (workers 0), in gunicorn's workers/base.py shape: state as fields, a handler per signal. */
class SingleProcess {
  private readonly serving: AppServer;
  private readonly handlers = new Map<string, () => void>();
  private pidfile: Pidfile | undefined;
  private control: Control | undefined;
  private listeners: Listener[] = [];
  private datagrams: DatagramListener[] = [];
  private started = false;
  private stopping: Promise<void> | undefined;
  private resolveStopped!: () => void;
  /** Settles when the server has stopped. */
  readonly stopped: Promise<void>;
  private askedEarly!: () => void;
  private readonly stopAsked: Promise<void>;
  /** systemd's Type=notify readiness, when NOTIFY_SOCKET is set; not when serving inside another program. */
  private readonly notify: SdNotify | undefined;
  /** Ends accept_grace early (a quick stop during it). */
  private cutGrace: (() => void) | undefined;
  /** What `monitorStart` taps get. */
  private readonly monitor: Monitor;

  constructor(private readonly app: App, private readonly signals: boolean) {
    this.serving = new AppServer(app, 0);
    this.stopped = new Promise<void>((resolve) => { this.resolveStopped = resolve; });
    this.stopAsked = new Promise<void>((resolve) => { this.askedEarly = resolve; });
    this.notify = signals ? new SdNotify(app.log) : undefined;
    const server = this.server;
    this.monitor = {
      name: app.name, app, cfg: app.cfg, addresses: [],
      workers: async () => [this.serving.entry()], restarts: noRestarts(),
      figures: () => [{ id: 0, pid: process.pid, stats: server.snapshot() }],
      onWorkerExit: () => {}, // no worker process: nothing exits but the server itself
    };
  }

  private get server(): ConnectionSet { return this.serving.server; }

  async serve(): Promise<Running> {
    const { app, serving, server } = this;
    if (this.signals) this.initSignals();
    let early: boolean;
    try {
      this.pidfile = app.cfg.pidfile ? Pidfile.create(app.cfg.pidfile) : undefined;
      const addresses = app.addresses(1);
      const setting = app.discovery.registry.nameSource('bind', app.settings.sources.bind!);
      const udp = addresses.filter((a) => a.kind === 'udp');
      refuseDatagramMisuse(app, udp, setting);
      early = await this.stopFirst(listenAll(addresses.filter((a) => a.kind !== 'udp'), app.cfg.backlog, () => {},
        setting, { onHandle: server.acceptHandle }).then((l) => { this.listeners = l; }));
      if (!early) early = await this.stopFirst(bindDatagrams(udp, setting).then((d) => { this.datagrams = d; }));
      if (!early) {
        serving.listeners = this.listeners;
        serving.datagramListeners = this.datagrams;
        for (const l of this.listeners) app.log.info({ address: l.bound }, listeningMessage(l));
        for (const d of this.datagrams) app.log.info({ address: d.bound }, `listening on ${d.bound}`);
        const unused = unusedInherited(addresses);
        if (unused) app.log.warn(unused);
        process.title = `ss arbiter [${app.name}]`;
        Object.assign(this.monitor, { addresses: [...this.listeners.map((l) => l.bound), ...this.datagrams.map((d) => d.bound)] });
        early = await this.stopFirst(app.hooks.monitorStart.promise(this.monitor)) || await this.stopFirst(serving.start());
      }
    } catch (err) {
      await this.release();
      throw err;
    }
    if (early) {
      for (const c of server.connections) c.destroy();
      await this.release();
      app.log.info('stopped during start-up');
      this.resolveStopped();
      return this.running();
    }
    this.started = true;
    this.control = await openControl(this.info, app.log);
    app.log.info({ workers: 0 }, `serving ${app.name} in process ${process.pid}`);
    this.notify?.ready(`serving ${app.name} in process ${process.pid}`);
    return this.running();
  }

  private running(): Running {
    return { listeners: this.listeners, server: this.server, worker: this.serving.worker, info: this.info, stop: this.stop, stopped: this.stopped };
  }

  /** Run a start-up step unless a stop comes first: true if the stop did. */
  private async stopFirst(step: Promise<unknown>): Promise<boolean> {
    step.catch(() => {}); // a step left running when we stop may fail later: nobody waits for it
    return Promise.race([step.then(() => false), this.stopAsked.then(() => true)]);
  }

  /** Each signal of SINGLE_PROCESS_SIGNALS to its handler, until release. */
  private initSignals(): void {
    for (const [signal, mode] of Object.entries(SINGLE_PROCESS_SIGNALS)) {
      const handler = signal === 'SIGHUP' && this.app.tls ? () => this.handleHup() : mode === 'ignored'
        ? () => this.handleIgnored(signal)
        : mode === 'reopen' ? () => this.handleReopen() : () => void this.stop(mode);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** HUP with TLS: read the certificate files again; new connections get the new ones, open ones keep theirs. */
  private handleHup(): void {
    const { app, notify } = this;
    notify?.reloading();
    try {
      app.tls!.reload();
      app.log.info('SIGHUP: TLS certificates reloaded (config and plugins need worker processes to reload)');
    } catch (err) {
      app.log.error(`SIGHUP: TLS reload failed, still serving the previous certificate: ${errorMessage(err)}`);
    }
    notify?.ready(`serving ${app.name} in process ${process.pid}`);
  }

  private handleIgnored(signal: string): void {
    this.app.log.warn(`${signal} ignored: reload and resizing need worker processes (--workers 1 or more)`);
  }

  private handleReopen(): void {
    this.app.hooks.reopen.call();
  }

  readonly stop = (mode: StopMode): Promise<void> => {
    const { app } = this;
    if (!this.stopping) {
      app.log.info(`stopping (${mode})`);
      this.notify?.stopping();
    }
    if (!this.started) {
      this.askedEarly(); // start-up sees it and stops there
      return this.stopped;
    }
    if (mode === 'quick') this.cutGrace?.();
    const done = mode === 'graceful' && this.stopping === undefined ? this.acceptGrace().then(() => this.serving.stop(mode)) : this.serving.stop(mode);
    return (this.stopping ??= (async () => {
      await done;
      await this.release();
      app.log.info('stopped');
      this.resolveStopped();
    })());
  };

  /** accept_grace: go on serving, refusing health checks, before the listeners close (a quick stop cuts it short). */
  private acceptGrace(): Promise<void> {
    const seconds = this.app.cfg.accept_grace;
    if (seconds === 0) return Promise.resolve();
    this.server.quiesce();
    this.app.log.info(acceptGraceLine(seconds));
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      this.cutGrace = () => { clearTimeout(timer); resolve(); };
    });
  }

  /** Close whatever start-up opened. */
  private async release(): Promise<void> {
    await this.control?.close();
    await closeAll(this.listeners);
    await this.serving.datagrams.close();
    for (const d of this.datagrams) closeQuietly(d);
    this.pidfile?.remove();
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    await this.notify?.flushed();
  }

  /** The info document (docs/design.md §9) through the `info` hook. */
  private readonly info = async (): Promise<InfoDocument> => {
    const { app, serving, monitor } = this;
    // This process is both: the taps see its worker entry, then the whole document, as they would apart.
    return app.info({
      arbiter: { pid: process.pid, name: app.name, uptime: (Date.now() - serving.started) / 1000, version, state: serving.state, droppedLogLines: droppedLogLines() },
      monitors: [{ name: app.name, addresses: monitor.addresses, workers: { wanted: 0, alive: 0 }, restarts: monitor.restarts }],
      // Through JSON as a worker's entry is (what JSON cannot hold becomes an error note, that entry's own).
      workers: [JSON.parse(infoJson(await app.info(serving.entry(), 'worker'))) as WorkerInfo],
    }, 'arbiter');
  };
}
