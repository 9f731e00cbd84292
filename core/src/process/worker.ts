// Entry point of a worker process, forked by the arbiter's monitor (see monitor.ts).
import { createServer, type Server as NetServer } from 'node:net';
import { App, type WorkerInfo } from '../plugins/app.js';
import { discoverServers, resolveSettings } from '../plugins/discovery.js';
import { errorMessage, type ErrorLocation } from '../errors.js';
import { infoJson, type FromWorker, type ToWorker, type WorkerBoot } from './ipc.js';
import { queuedAccepted, takeHandles } from '../net/listen.js';
import type { Socket as UdpSocket } from 'node:dgram';
import type { DatagramListener } from '../net/datagram.js';
import { parseAddress } from '../address.js';
import { listeningHandle, type NativeHandle } from '../net/native-handle.js';
import { createLogger } from '../logger.js';
import { AppServer, type StopMode } from './app-server.js';
import type { ConnectionSet } from '../net/connection-set.js';
import { STATS_EVERY_MS } from './worker-stats.js';
import { SIGNALS_WORKERS_IGNORE } from './signals.js';
import { WorkerRelay } from './pubsub-relay.js';

function send(message: FromWorker, handle?: NativeHandle): void {
  if (process.connected) process.send!(message, handle as never);
}

/** The boot message: the first thing the arbiter sends. */
function bootMessage(): Promise<WorkerBoot> {
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
 * A worker process (gunicorn's workers/base.py): build the server from the config and plugins
 * (as the arbiter did), run `workerStart`, say `ready`, then serve the sockets the arbiter hands
 * over (and, with reuse-port or shared, those it listens on itself) until the arbiter says stop.
 */
class WorkerMain {
  /** A stop asked for during start-up: done as soon as there is something to stop. */
  private early: StopMode | undefined;
  /** A reopen asked for during start-up (workerStart may have opened a log file before logrotate moved it). */
  private reopenEarly = false;
  private boot!: WorkerBoot;
  private serving!: AppServer;
  /** Pub/sub with the server's other workers, through the arbiter. */
  private relay: WorkerRelay | undefined;
  /** Our counters for the arbiter, when a plugin asked (App.reportStats). */
  private stats: (() => FromWorker) | undefined;
  /** Shared and reuse-port: the listening sockets it accepts on, from the arbiter (which keeps them open: see ListenSlots). */
  private readonly own: NetServer[] = [];
  private stopping = false;
  /** Connections taken since the last `took`: the arbiter holds each until we say so (one message per turn of the loop). */
  private took = 0;

  private get app(): App { return this.serving.app; }
  private get server(): ConnectionSet { return this.serving.server; }

  async run(): Promise<void> {
    for (const signal of SIGNALS_WORKERS_IGNORE) process.on(signal, () => {});
    // Without the arbiter, nobody supervises us: stop at once rather than serve orphaned.
    process.on('disconnect', () => process.exit(0));
    // Listened for before the boot message is awaited: a stop may come in the same read as it.
    process.on('message', this.duringBoot);
    const b = this.boot = await bootMessage();
    process.title = `ss worker ${b.id} [${b.name}]`;
    // The heartbeat stops when the event loop is blocked; the arbiter then kills us after `timeout`.
    if (b.beat > 0) setInterval(send, b.beat * 1000, { t: 'beat' }).unref();
    if (!await this.start()) return;
    process.off('message', this.duringBoot);
    if (this.reopenEarly) this.app.hooks.reopen.call();
    this.report();
    this.initSignals();
    process.on('message', this.onMessage);
    if (this.early) this.stop(this.early);
    else send({ t: 'ready' });
  }

  /** A stop or a reopen during start-up is kept for later. */
  private readonly duringBoot = (m: ToWorker): void => {
    if (m.t === 'stop') this.early ??= m.mode;
    else if (m.t === 'reopen') this.reopenEarly = true;
  };

  /** Build the app and run workerStart; on failure, tell the arbiter and exit (false). */
  private async start(): Promise<boolean> {
    const b = this.boot;
    try {
      const [discovery] = await discoverServers({ cwd: b.cwd, env: process.env, cli: b.cli, builtinDirs: b.builtinDirs, found: b.found }, b.server);
      const app = await App.create(discovery!, resolveSettings(discovery!, b.cli));
      app.tls?.setTicketKeys(Buffer.from(b.ticketKeys, 'base64'));
      // Before serving: a subscription made on an early connection is told to the arbiter too.
      this.relay = new WorkerRelay(app.pubsub.local, send);
      app.pubsub.relay = this.relay;
      this.serving = new AppServer(app, b.id, Buffer.from(b.origin, 'hex'));
      await this.serving.start();
      return true;
    } catch (err) {
      // A failure of ours (exit code known) is its message, and where in the user's code it came
      // from; anything else is logged here with its stack, in one JSON line, and the arbiter gets
      // the message's first line.
      const known = typeof (err as { exitCode?: unknown }).exitCode === 'number';
      if (!known) logWorkerCrash(err);
      const location = (err as { location?: ErrorLocation }).location;
      const message: FromWorker = { t: 'failed', message: errorMessage(err).split('\n')[0]!, ...(location ? { location } : {}) };
      if (process.connected) process.send!(message, () => process.exit(1));
      else process.exit(1);
      return false;
    }
  }

  /** Counters for the arbiter now and then (read from plain fields, nothing per request), and max_requests. */
  private report(): void {
    const { app, server } = this;
    const stats = app.reportsStats ? (): FromWorker => ({ t: 'stats', stats: server.snapshot() }) : undefined;
    this.stats = stats;
    if (stats) setInterval(() => send(stats()), STATS_EVERY_MS).unref();
    const cfg = app.cfg;
    if (cfg.max_requests > 0) {
      server.requestLimit = cfg.max_requests + Math.floor(Math.random() * (cfg.max_requests_jitter + 1));
      server.limitReached = () => send({ t: 'retire', requests: server.requests });
    }
  }

  /** The worker's own signals (see signals.ts for those it ignores): once started, as the arbiter would ask. */
  private initSignals(): void {
    process.on('SIGTERM', () => this.handleTerm());
    process.on('SIGUSR1', () => this.handleUsr1());
    process.on('SIGQUIT', () => this.handleQuit());
  }

  private handleTerm(): void { this.stop('graceful'); }
  private handleQuit(): void { this.stop('quick'); }
  /** As the arbiter's USR1 does (and not Node's inspector). */
  private handleUsr1(): void { this.app.hooks.reopen.call(); }

  private readonly onMessage = (m: ToWorker, handle?: NativeHandle): void => {
    switch (m.t) {
      case 'conn':
        if (this.took++ === 0) setImmediate(this.ack);
        if (handle) this.server.acceptHandle(handle);
        break;
      case 'listen':
        if (handle && this.stopping) handle.close();
        else if (handle) this.listen(handle, m.keep);
        break;
      case 'dgram':
        // A socket bound by the arbiter (it arrives here bound, and reading); a stopping worker reads nothing more.
        if (handle && this.stopping) (handle as unknown as UdpSocket).close();
        else if (handle) this.serving.datagrams.serve({ address: parseAddress(m.bound) as DatagramListener['address'], socket: handle as unknown as UdpSocket, bound: m.bound });
        break;
      case 'stop':
        this.stop(m.mode, m.linger === true);
        break;
      case 'reopen':
        this.app.hooks.reopen.call();
        break;
      case 'quiesce':
        this.server.quiesce();
        break;
      case 'info':
        this.info(m.req);
        break;
      case 'ps':
        this.relay?.received(m);
        break;
    }
  };

  private readonly ack = (): void => {
    send({ t: 'took', n: this.took });
    this.took = 0;
  };

  /** Accept on a listening socket of our slot; with `keep`, send the arbiter a descriptor of it back. */
  private listen(handle: NativeHandle, keep: boolean): void {
    const listener = createServer();
    listener.on('error', (err) => this.app.log.error(`worker ${this.boot.id}: cannot accept on a listening socket: ${errorMessage(err)}`));
    listener.listen(handle, this.app.cfg.backlog); // listen(2) again: this sets the backlog
    takeHandles(listener, this.server.acceptHandle);
    this.own.push(listener);
    if (keep) send({ t: 'kept' }, listeningHandle(listener));
  }

  private info(req: number): void {
    // Our counters first: whoever asks for info (a scrape) finds them as fresh as the answer.
    if (this.stats) send(this.stats());
    // What the taps return goes through JSON: what JSON cannot hold becomes an error note.
    this.app.info(this.serving.entry(), 'worker').then(
      (info) => send({ t: 'info', req, info: JSON.parse(infoJson(info)) as WorkerInfo }),
      (err) => send({ t: 'info', req, info: { ...this.serving.entry(), error: errorMessage(err) } }),
    );
  }

  private stop(mode: StopMode, linger = false): void {
    if (!this.stopping) this.app.log.debug(`worker ${this.boot.id}: stopping (${mode})`);
    this.stopping = true;
    const listeners = this.own.splice(0);
    // A stop takes what is queued before closing (closing resets it); on a reload the replacement
    // accepts on the same socket, so the listeners close at once.
    void (mode === 'graceful' && !linger ? queuedAccepted() : Promise.resolve()).then(() => {
      for (const listener of listeners) listener.close();
      return this.serving.stop(mode, linger);
    }).then(() => {
      const exit = () => {
        process.disconnect?.();
        process.exit(0);
      };
      // The last counters, with the requests that ended during the drain, before the channel closes.
      if (this.stats && process.connected) process.send!(this.stats(), exit);
      else exit();
    });
  }
}

/** Log a worker's own unexpected failure before it dies, naming the worker. */
function logWorkerCrash(err: unknown): void {
  createLogger('error').fatal({ err }, `worker ${process.pid}: ${errorMessage(err)}`);
}

process.on('uncaughtException', (err) => {
  logWorkerCrash(err);
  process.exit(1);
});
await new WorkerMain().run();
