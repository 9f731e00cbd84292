import { noRestarts, type App, type InfoDocument, type Monitor, type Worker } from '../plugins/app.js';
import { openControl } from './control-socket.js';
import { closeAll, listenAll, listeningMessage, type Listener } from '../net/listen.js';
import { unusedInherited } from '../activation.js';
import { Pidfile } from './pidfile.js';
import type { Server } from '../net/connection-set.js';
import { acceptGraceLine, AppServer, type StopMode } from './app-server.js';
import { version } from '../version.js';
import { errorMessage } from '../errors.js';
import { SdNotify } from './sd-notify.js';

export type { StopMode };

/** Signals and what they do to a server serving in its own process (workers 0). */
export const SIGNALS: Readonly<Record<string, StopMode | 'ignored' | 'reopen'>> = {
  SIGTERM: 'graceful', // stop accepting, finish in-flight requests, close, force after graceful_timeout
  SIGINT: 'quick',
  SIGQUIT: 'quick',
  // Reload and resizing need worker processes; without these handlers the signals would kill us.
  // With TLS, HUP reloads the certificates in place.
  SIGHUP: 'ignored',
  SIGTTIN: 'ignored',
  SIGTTOU: 'ignored',
  SIGUSR1: 'reopen', // reopen log files (logrotate)
};

export interface Running {
  readonly listeners: readonly Listener[];
  readonly server: Server;
  readonly worker: Worker;
  /** The info document (design §9) through the `info` hook. */
  info(): Promise<InfoDocument>;
  stop(mode: StopMode): Promise<void>;
  /** Settles when the server has stopped. */
  readonly stopped: Promise<void>;
}

/**
 * Serve `app` in this process (workers 0): bind every address (failing at once if one
 * is taken), run `monitorStart` then `workerStart`, then accept. With `signals`, the
 * table above stops it, from the start: a stop asked for while binding or in a start-up
 * hook ends start-up there (without waiting for a hook that hangs), removes the pidfile,
 * and `stopped` settles.
 */
export async function serve(app: App, { signals = true } = {}): Promise<Running> {
  const serving = new AppServer(app, 0);
  const server = serving.server;
  const handlers = new Map<string, () => void>();
  let pidfile: Pidfile | undefined;
  let control: Awaited<ReturnType<typeof openControl>>;
  let listeners: Listener[] = [];
  let started = false;
  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve; });
  let askedEarly!: () => void;
  const stopAsked = new Promise<void>((resolve) => { askedEarly = resolve; });
  // systemd's Type=notify readiness, when NOTIFY_SOCKET is set; not when serving inside another program.
  const notify = signals ? new SdNotify(app.log) : undefined;

  /** Close whatever start-up opened. */
  const release = async () => {
    await control?.close();
    await closeAll(listeners);
    pidfile?.remove();
    for (const [signal, handler] of handlers) process.off(signal, handler);
    await notify?.flushed();
  };
  let cutGrace: (() => void) | undefined;
  /** accept_grace: go on serving, refusing health checks, before the listeners close (a quick stop cuts it short). */
  const acceptGrace = (): Promise<void> => {
    const seconds = app.cfg.accept_grace;
    if (seconds === 0) return Promise.resolve();
    server.quiesce();
    app.log.info(acceptGraceLine(seconds));
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      cutGrace = () => { clearTimeout(timer); resolve(); };
    });
  };
  const stop = (mode: StopMode): Promise<void> => {
    if (!stopping) {
      app.log.info(`stopping (${mode})`);
      notify?.stopping();
    }
    if (!started) {
      askedEarly(); // start-up sees it and stops there
      return stopped;
    }
    if (mode === 'quick') cutGrace?.();
    const done = mode === 'graceful' && stopping === undefined ? acceptGrace().then(() => serving.stop(mode)) : serving.stop(mode);
    return (stopping ??= (async () => {
      await done;
      await release();
      app.log.info('stopped');
      resolveStopped();
    })());
  };
  /** Run a start-up step unless a stop comes first: true if the stop did. */
  const stopFirst = async (step: Promise<unknown>): Promise<boolean> => {
    step.catch(() => {}); // a step left running when we stop may fail later: nobody waits for it
    return Promise.race([step.then(() => false), stopAsked.then(() => true)]);
  };

  /** HUP with TLS: read the certificate files again; new connections get the new ones, open ones keep theirs. */
  const reloadTls = () => {
    notify?.reloading();
    try {
      app.tls!.reload();
      app.log.info('SIGHUP: TLS certificates reloaded (config and plugins need worker processes to reload)');
    } catch (err) {
      app.log.error(`SIGHUP: TLS reload failed, still serving the previous certificate: ${errorMessage(err)}`);
    }
    notify?.ready(`serving ${app.name} in process ${process.pid}`);
  };
  if (signals) {
    for (const [signal, mode] of Object.entries(SIGNALS)) {
      const handler = signal === 'SIGHUP' && app.tls ? reloadTls : mode === 'ignored'
        ? () => app.log.warn(`${signal} ignored: reload and resizing need worker processes (--workers 1 or more)`)
        : mode === 'reopen' ? () => app.hooks.reopen.call() : () => void stop(mode);
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }
  const monitor: Monitor = {
    name: app.name, app, cfg: app.cfg, addresses: [],
    workers: async () => [serving.entry()], restarts: noRestarts(),
    figures: () => [{ id: 0, pid: process.pid, stats: server.snapshot() }],
    onWorkerExit: () => {}, // no worker process: nothing exits but the server itself
  };
  let early: boolean;
  try {
    pidfile = app.cfg.pidfile ? Pidfile.create(app.cfg.pidfile) : undefined;
    const addresses = app.addresses(1);
    early = await stopFirst(listenAll(addresses, app.cfg.backlog, () => {},
      app.discovery.registry.nameSource('bind', app.settings.sources.bind!), { onHandle: server.acceptHandle }).then((l) => { listeners = l; }));
    if (!early) {
      serving.listeners = listeners;
      for (const l of listeners) app.log.info({ address: l.bound }, listeningMessage(l));
      const unused = unusedInherited(addresses);
      if (unused) app.log.warn(unused);
      process.title = `ss arbiter [${app.name}]`;
      Object.assign(monitor, { addresses: listeners.map((l) => l.bound) });
      early = await stopFirst(app.hooks.monitorStart.promise(monitor)) || await stopFirst(serving.start());
    }
  } catch (err) {
    await release();
    throw err;
  }
  const info = (): Promise<InfoDocument> => app.info({
    arbiter: { pid: process.pid, name: app.name, uptime: (Date.now() - serving.started) / 1000, version, state: serving.state },
    monitors: [{ name: app.name, addresses: monitor.addresses, workers: { wanted: 0, alive: 0 }, restarts: monitor.restarts }],
    workers: [serving.entry()],
  });
  if (early) {
    for (const c of server.connections) c.destroy();
    await release();
    app.log.info('stopped during start-up');
    resolveStopped();
    return { listeners, server, worker: serving.worker, info, stop, stopped };
  }
  started = true;
  control = await openControl(info, app.log);
  app.log.info({ workers: 0 }, `serving ${app.name} in process ${process.pid}`);
  notify?.ready(`serving ${app.name} in process ${process.pid}`);
  return { listeners, server, worker: serving.worker, info, stop, stopped };
}
