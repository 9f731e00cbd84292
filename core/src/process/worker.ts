// Entry point of a worker process, forked by the arbiter's monitor (see monitor.ts).
import { createServer, type Server as NetServer } from 'node:net';
import { App, type WorkerInfo } from '../plugins/app.js';
import { discoverServers, resolveSettings } from '../plugins/discovery.js';
import { errorMessage } from '../errors.js';
import { infoJson, type FromWorker, type ToWorker, type WorkerBoot } from './ipc.js';
import { queuedAccepted, takeHandles, type NativeHandle } from '../net/listen.js';
import { createLogger } from '../logger.js';
import { AppServer } from './app-server.js';
import { STATS_EVERY_MS } from './worker-stats.js';

function send(message: FromWorker, handle?: NativeHandle): void {
  if (process.connected) process.send!(message, handle as never);
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
 * Signals meant for the arbiter that also reach workers when sent to the process group (a
 * terminal's ^C, `kill -HUP -PGID`): by default they would kill (INT, HUP) or stop (TTIN,
 * TTOU) every worker. The arbiter decides; workers obey it.
 */
const ARBITERS_SIGNALS = ['SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const;

/**
 * A worker process: build the server from the config and plugins (as the arbiter did),
 * run `workerStart`, say `ready`, then serve the sockets the arbiter hands over (and,
 * with reuse-port or shared, those it listens on itself) until the arbiter says stop.
 */
async function runWorker(): Promise<void> {
  for (const signal of ARBITERS_SIGNALS) process.on(signal, () => {});
  // Without the arbiter, nobody supervises us: stop at once rather than serve orphaned.
  process.on('disconnect', () => process.exit(0));
  // A stop asked for during start-up is kept, and done as soon as there is something to stop;
  // a reopen too (workerStart may have opened a log file before logrotate moved it).
  // Listened for before the boot message is awaited: a stop may come in the same read as it.
  let early: 'graceful' | 'quick' | undefined;
  let reopen = false;
  const duringBoot = (m: ToWorker) => {
    if (m.t === 'stop') early ??= m.mode;
    else if (m.t === 'reopen') reopen = true;
  };
  process.on('message', duringBoot);
  const b = await boot();
  process.title = `ss worker ${b.id} [${b.name}]`;
  // The heartbeat stops when the event loop is blocked; the arbiter then kills us after `timeout`.
  if (b.beat > 0) setInterval(send, b.beat * 1000, { t: 'beat' }).unref();

  let serving: AppServer;
  try {
    const [discovery] = await discoverServers({ cwd: b.cwd, env: process.env, cli: b.cli, builtinDirs: b.builtinDirs, found: b.found }, b.server);
    const app = await App.create(discovery!, resolveSettings(discovery!, b.cli));
    app.tls?.setTicketKeys(Buffer.from(b.ticketKeys, 'base64'));
    serving = new AppServer(app, b.id);
    await serving.start();
  } catch (err) {
    // A failure of ours (exit code known) is its message; anything else is logged here with its
    // stack, in one JSON line, and the arbiter gets the message's first line.
    const known = typeof (err as { exitCode?: unknown }).exitCode === 'number';
    if (!known) logWorkerCrash(err);
    const message: FromWorker = { t: 'failed', message: errorMessage(err).split('\n')[0]! };
    if (process.connected) process.send!(message, () => process.exit(1));
    else process.exit(1);
    return;
  }
  process.off('message', duringBoot);
  const { app, server } = serving;
  if (reopen) app.hooks.reopen.call();
  const cfg = app.cfg;
  // Our counters for the arbiter, when a plugin asked (App.reportStats): read from plain fields
  // now and then, nothing per request.
  const stats = app.reportsStats ? (): FromWorker => ({ t: 'stats', stats: server.snapshot() }) : undefined;
  if (stats) setInterval(() => send(stats()), STATS_EVERY_MS).unref();
  if (cfg.max_requests > 0) {
    server.requestLimit = cfg.max_requests + Math.floor(Math.random() * (cfg.max_requests_jitter + 1));
    server.limitReached = () => send({ t: 'retire', requests: server.requests });
  }

  /** Shared and reuse-port: the listening sockets it accepts on, from the arbiter (which keeps them open: see ListenSlots). */
  const own: NetServer[] = [];
  let stopping = false;
  const stop = (mode: 'graceful' | 'quick', linger = false) => {
    if (!stopping) app.log.debug(`worker ${b.id}: stopping (${mode})`);
    stopping = true;
    const listeners = own.splice(0);
    // A stop takes what is queued before closing (closing resets it); on a reload the replacement
    // accepts on the same socket, so the listeners close at once.
    void (mode === 'graceful' && !linger ? queuedAccepted() : Promise.resolve()).then(() => {
      for (const listener of listeners) listener.close();
      return serving.stop(mode, linger);
    }).then(() => {
      const exit = () => {
        process.disconnect?.();
        process.exit(0);
      };
      // The last counters, with the requests that ended during the drain, before the channel closes.
      if (stats && process.connected) process.send!(stats(), exit);
      else exit();
    });
  };
  process.on('SIGTERM', () => stop('graceful'));
  process.on('SIGUSR1', () => app.hooks.reopen.call()); // as the arbiter's USR1 does (and not Node's inspector)
  process.on('SIGQUIT', () => stop('quick'));
  // The arbiter holds each connection it sent until we say we took it (one message per turn of the loop).
  let took = 0;
  const ack = () => {
    send({ t: 'took', n: took });
    took = 0;
  };
  process.on('message', (m: ToWorker, handle?: NativeHandle) => {
    switch (m.t) {
      case 'conn':
        if (took++ === 0) setImmediate(ack);
        if (handle) server.acceptHandle(handle);
        break;
      case 'listen':
        if (handle && stopping) handle.close();
        else if (handle) {
          const listener = createServer();
          listener.on('error', (err) => app.log.error(`worker ${b.id}: cannot accept on a listening socket: ${errorMessage(err)}`));
          listener.listen(handle, app.cfg.backlog); // listen(2) again: this sets the backlog
          takeHandles(listener, server.acceptHandle);
          own.push(listener);
          if (m.keep) send({ t: 'kept' }, (listener as unknown as { _handle: NativeHandle })._handle);
        }
        break;
      case 'stop':
        stop(m.mode, m.linger === true);
        break;
      case 'reopen':
        app.hooks.reopen.call();
        break;
      case 'quiesce':
        server.quiesce();
        break;
      case 'info':
        // Our counters first: whoever asks for info (a scrape) finds them as fresh as the answer.
        if (stats) send(stats());
        // What the taps return goes through JSON: what JSON cannot hold becomes an error note.
        app.info(serving.entry()).then(
          (info) => send({ t: 'info', req: m.req, info: JSON.parse(infoJson(info)) as WorkerInfo }),
          (err) => send({ t: 'info', req: m.req, info: { ...serving.entry(), error: errorMessage(err) } }),
        );
        break;
    }
  });
  if (early) stop(early);
  else send({ t: 'ready' });
}

/** Log a worker's own unexpected failure before it dies, naming the worker. */
function logWorkerCrash(err: unknown): void {
  createLogger('error').fatal({ err }, `worker ${process.pid}: ${errorMessage(err)}`);
}

process.on('uncaughtException', (err) => {
  logWorkerCrash(err);
  process.exit(1);
});
await runWorker();
