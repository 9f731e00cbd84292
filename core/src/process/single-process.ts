import type { App, Info, Monitor, Worker } from '../plugins/app.js';
import { openControl } from './control-socket.js';
import { closeAll, listenAll, type Listener } from '../net/listen.js';
import { Pidfile } from './pidfile.js';
import type { Server } from '../net/connection-set.js';
import { AppServer, type StopMode } from './app-server.js';
import { version } from '../version.js';

export type { StopMode };

/** Signals and what they do to a server serving in its own process (workers 0). */
export const SIGNALS: Readonly<Record<string, StopMode | 'ignored'>> = {
  SIGTERM: 'graceful', // stop accepting, finish in-flight requests, close, force after graceful_timeout
  SIGINT: 'quick',
  SIGQUIT: 'quick',
  // Reload and resizing need worker processes; without these handlers the signals would kill us.
  SIGHUP: 'ignored',
  SIGTTIN: 'ignored',
  SIGTTOU: 'ignored',
};

export interface Running {
  readonly listeners: readonly Listener[];
  readonly server: Server;
  readonly worker: Worker;
  /** The info document (design §9) through the `info` hook. */
  info(): Promise<Info>;
  stop(mode: StopMode): Promise<void>;
  /** Settles when the server has stopped. */
  readonly stopped: Promise<void>;
}

/**
 * Serve `app` in this process (workers 0): bind every address (failing at once if one
 * is taken), run `monitorStart` then `workerStart`, then accept. With `signals`, the
 * table above stops it.
 */
export async function serve(app: App, { signals = true } = {}): Promise<Running> {
  const pidfile = app.cfg.pidfile ? Pidfile.create(app.cfg.pidfile) : undefined;
  const serving = new AppServer(app, 0);
  const server = serving.server;
  let listeners: Listener[];
  try {
    listeners = await listenAll(app.cfg.bind, app.cfg.backlog, server.accept,
      app.discovery.registry.nameSource('bind', app.settings.sources.bind!));
  } catch (err) {
    pidfile?.remove();
    throw err;
  }
  serving.listeners = listeners;
  for (const l of listeners) app.log.info({ address: l.bound }, `listening on ${l.bound}`);
  process.title = `ss arbiter [${app.name}]`;

  const monitor: Monitor = { name: app.name, app, cfg: app.cfg, addresses: listeners.map((l) => l.bound) };
  try {
    await app.hooks.monitorStart.promise(monitor);
    await serving.start();
  } catch (err) {
    await closeAll(listeners);
    pidfile?.remove();
    throw err;
  }
  const info = (): Promise<Info> => app.info({
    arbiter: { pid: process.pid, name: app.name, uptime: (Date.now() - serving.started) / 1000, version, state: serving.state },
    monitors: [{ name: app.name, addresses: monitor.addresses, workers: { wanted: 0, alive: 0 } }],
    workers: [serving.entry()],
  });
  let control: Awaited<ReturnType<typeof openControl>>;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve; });
  const handlers = new Map<string, () => void>();
  let stopping: Promise<void> | undefined;

  const stop = (mode: StopMode): Promise<void> => {
    if (!stopping) app.log.info(`stopping (${mode})`);
    const done = serving.stop(mode);
    return (stopping ??= (async () => {
      await done;
      await control?.close();
      pidfile?.remove();
      for (const [signal, handler] of handlers) process.off(signal, handler);
      app.log.info('stopped');
      resolveStopped();
    })());
  };

  if (signals) {
    for (const [signal, mode] of Object.entries(SIGNALS)) {
      const handler = mode === 'ignored'
        ? () => app.log.warn(`${signal} ignored: reload and resizing need worker processes (--workers 1 or more)`)
        : () => void stop(mode);
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }
  // Signals are handled before "serving" is said: a HUP right after it must not kill us.
  control = await openControl(info, app.log);
  app.log.info({ workers: 0 }, `serving ${app.name} in process ${process.pid}`);

  return { listeners, server, worker: serving.worker, info, stop, stopped };
}
