import { Socket, type Server as NetServer } from 'node:net';
import { App } from './app.js';
import { discoverServers, resolveSettings } from './boot.js';
import { errorMessage } from './errors.js';
import type { FromWorker, ToWorker, WorkerBoot } from './ipc.js';
import type { NativeHandle } from './listener.js';
import { createLogger } from './logger.js';
import { Serving } from './serving.js';

function send(message: FromWorker): void {
  if (process.connected) process.send!(message);
}

/** The boot message: the first thing the arbiter sends. */
function boot(): Promise<WorkerBoot> {
  return new Promise((resolve) => {
    const first = (m: ToWorker) => {
      if (m.t !== 'boot') return;
      process.off('message', first);
      resolve(m.boot);
    };
    process.on('message', first);
  });
}

/**
 * A worker process: build the server from the config and plugins (as the arbiter did),
 * run `workerStart`, say `ready`, then serve the sockets the arbiter hands over (and,
 * with reuse-port, those of its own listeners) until the arbiter says stop.
 */
export async function runWorker(): Promise<void> {
  process.on('SIGINT', () => {}); // the terminal's ^C reaches the whole group: the arbiter decides
  // Without the arbiter, nobody supervises us: stop at once rather than serve orphaned.
  process.on('disconnect', () => process.exit(0));
  const b = await boot();
  process.title = `ss worker ${b.id} [${b.name}]`;
  // The heartbeat stops when the event loop is blocked; the arbiter then kills us after `timeout`.
  if (b.beat > 0) setInterval(send, b.beat * 1000, { t: 'beat' }).unref();
  // A stop asked for during start-up is kept, and done as soon as there is something to stop.
  let early: 'graceful' | 'quick' | undefined;
  const duringBoot = (m: ToWorker) => { if (m.t === 'stop') early ??= m.mode; }; // no sockets to hand over yet
  process.on('message', duringBoot);

  let serving: Serving;
  try {
    const [discovery] = await discoverServers({ cwd: b.cwd, env: process.env, cli: b.cli, builtinDirs: b.builtinDirs }, b.server);
    const app = await App.create(discovery!, resolveSettings(discovery!, b.cli));
    serving = new Serving(app, b.id);
    await serving.start();
  } catch (err) {
    const known = typeof (err as { exitCode?: unknown }).exitCode === 'number';
    const message: FromWorker = { t: 'failed', message: known ? errorMessage(err) : (err as Error)?.stack ?? String(err) };
    if (process.connected) process.send!(message, () => process.exit(1));
    else process.exit(1);
    return;
  }
  process.off('message', duringBoot);
  const { app, server } = serving;
  const cfg = app.cfg;
  if (cfg.max_requests > 0) {
    server.requestLimit = cfg.max_requests + Math.floor(Math.random() * (cfg.max_requests_jitter + 1));
    server.limitReached = () => send({ t: 'retire', requests: server.requests });
  }

  /** Reuse-port: this slot's listening sockets, from the arbiter. */
  const own: NetServer[] = [];
  let stopping = false;
  const stop = (mode: 'graceful' | 'quick', handover = false) => {
    if (!stopping) app.log.debug(`worker ${b.id}: stopping (${mode})`);
    stopping = true;
    // Given back, not closed: closing would reset the connections waiting in their queues.
    for (const listener of own.splice(0)) {
      if (handover && process.connected) process.send!({ t: 'handover' } satisfies FromWorker, listener as never, () => listener.close());
      else listener.close();
    }
    void serving.stop(mode).then(() => {
      process.disconnect?.();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('graceful'));
  process.on('SIGQUIT', () => stop('quick'));
  process.on('message', (m: ToWorker, handle?: NativeHandle | NetServer) => {
    switch (m.t) {
      case 'conn':
        if (handle) {
          // What net.Server does with a connection it accepted itself.
          const socket = new Socket({ handle: handle as NativeHandle, readable: true, writable: true, allowHalfOpen: true } as never);
          socket.setNoDelay(true);
          server.accept(socket);
        }
        break;
      case 'listen':
        if (handle && !stopping) {
          const listener = handle as unknown as NetServer;
          // What net.Server reads for each connection it accepts (createServer's options).
          Object.assign(listener, { allowHalfOpen: true, noDelay: true });
          listener.on('connection', server.accept);
          own.push(listener);
        }
        break;
      case 'stop':
        stop(m.mode, m.handover);
        break;
      case 'info':
        app.info(serving.entry()).then(
          (info) => send({ t: 'info', req: m.req, info }),
          (err) => send({ t: 'info', req: m.req, info: { ...serving.entry(), error: errorMessage(err) } }),
        );
        break;
    }
  });
  if (early) stop(early);
  else send({ t: 'ready' });
}

/** Log a worker's own unexpected failure before it dies, naming the worker. */
export function logWorkerCrash(err: unknown): void {
  createLogger('error').fatal({ err }, `worker ${process.pid}: ${errorMessage(err)}`);
}
