import type { App, Info, Monitor, Worker } from './app.js';
import { releaseCompiler } from './import-module.js';
import { closeAll, listenAll, type Listener } from './listener.js';
import { Server } from './server.js';
import { version } from './version.js';

export type StopMode = 'graceful' | 'quick';

/** Signals and what they do to a server serving in its own process. */
export const SIGNALS: Readonly<Record<string, StopMode>> = {
  SIGTERM: 'graceful', // stop accepting, finish in-flight requests, close, force after graceful_timeout
  SIGINT: 'quick',
  SIGQUIT: 'quick',
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
  const started = Date.now();
  const server = new Server(app);
  const listeners = await listenAll(app.cfg.bind, app.cfg.backlog, server.accept,
    app.discovery.registry.nameSource('bind', app.settings.sources.bind!));
  for (const l of listeners) app.log.info({ address: l.bound }, `listening on ${l.bound}`);

  const monitor: Monitor = { name: app.name, app, cfg: app.cfg, addresses: listeners.map((l) => l.bound) };
  const worker: Worker = { id: 0, pid: process.pid, name: app.name, app, cfg: app.cfg, stats: server };
  try {
    await app.hooks.monitorStart.promise(monitor);
    await app.hooks.workerStart.promise(worker);
  } catch (err) {
    await closeAll(listeners);
    throw err;
  }
  server.start();
  releaseCompiler(); // everything is loaded: keep the serving heap small
  app.log.info({ workers: 0 }, `serving ${app.name} in process ${process.pid}`);

  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve; });
  const handlers = new Map<string, () => void>();

  const stop = (mode: StopMode): Promise<void> => {
    if (stopping && mode === 'quick') for (const c of server.connections) c.destroy();
    return (stopping ??= (async () => {
      app.log.info(`stopping (${mode})`);
      const closed = closeAll(listeners);
      if (mode === 'graceful') await server.shutdown(app.cfg.graceful_timeout * 1000);
      else await server.shutdown(0);
      await app.hooks.workerStop.promise(worker); // failing taps are logged by the hook guard
      await closed;
      for (const [signal, handler] of handlers) process.off(signal, handler);
      app.log.info('stopped');
      resolveStopped();
    })());
  };

  if (signals) {
    for (const [signal, mode] of Object.entries(SIGNALS)) {
      const handler = () => void stop(mode);
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  const info = (): Promise<Info> => app.info({
    arbiter: { pid: process.pid, uptime: (Date.now() - started) / 1000, version, state: stopping ? 'stopping' : 'running' },
    monitors: [{ name: app.name, addresses: monitor.addresses, workers: { wanted: 0, alive: 0 } }],
    workers: [{
      id: 0, pid: process.pid, uptime: (Date.now() - started) / 1000, requests: server.requests,
      connections: { active: server.active, received: server.received }, memory: process.memoryUsage.rss(),
    }],
  });

  return { listeners, server, worker, info, stop, stopped };
}
