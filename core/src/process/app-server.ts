import type { App, HookTimesInfo, TapTimeInfo, Worker, WorkerInfo } from '../plugins/app.js';
import type { HookTimes } from '../plugins/hooks.js';
import { releaseCompiler } from '../config/import-module.js';
import { closeAll, queuedAccepted, type Listener } from '../net/listen.js';
import { ConnectionSet } from '../net/connection-set.js';
import { DatagramServer, type DatagramListener } from '../net/datagram.js';
import { droppedLogLines } from '../logger.js';
import { UsageError } from '../errors.js';
import type { Address } from '../address.js';
import { randomBytes } from 'node:crypto';
import { ORIGIN_BYTES, RedisBridge } from './pubsub-redis.js';

export type StopMode = 'graceful' | 'quick';

/** The line a graceful stop with accept_grace logs as it begins (one process or an arbiter's server). */
export const acceptGraceLine = (seconds: number): string => `stopping in ${seconds}s, accepting meanwhile; health checks (PROXY LOCAL) are refused`;

/** TLS and the PROXY protocol are for connections: a udp:// bind beside them is refused rather than served plain (docs/reference/udp.md). */
export function refuseDatagramMisuse(app: App, udp: readonly Address[], setting: string): void {
  if (udp.length > 0 && (app.tls || app.cfg.proxy_protocol !== 'off')) {
    throw new UsageError(`invalid ${setting} "${udp[0]!.text}": udp:// is served without ${app.tls ? 'TLS (--certfile)' : 'the PROXY protocol (--proxy-protocol)'}; bind it in a server of its own`);
  }
}

/**
 * Tap times for info: per plugin and hook, the calls, the timed ones and their seconds (what a
 * reader takes the growth of between two readings), and the mean time of a call in µs since start.
 */
function tapTimes(times: HookTimes): HookTimesInfo {
  const out: HookTimesInfo = {};
  for (const [plugin, byHook] of times) {
    const hooks: Record<string, TapTimeInfo> = {};
    for (const [hook, t] of Object.entries(byHook)) {
      if (t.calls > 0) hooks[hook] = { calls: t.calls, sampled: t.sampled, seconds: t.seconds, meanUs: t.sampled > 0 ? Math.round((t.seconds / t.sampled) * 1e7) / 10 : null };
    }
    if (Object.keys(hooks).length > 0) out[plugin] = hooks;
  }
  return out;
}

/**
 * One app served by this process: the arbiter itself (workers 0, id 0) or a worker (id 1..N).
 * `start` runs `workerStart` and begins accepting; `stop` stops accepting, lets requests in
 * flight finish (graceful, up to graceful_timeout) and runs `workerStop`.
 */
export class AppServer {
  readonly server: ConnectionSet;
  readonly worker: Worker;
  readonly started = Date.now();
  /** Listeners this process accepts on itself, closed first on stop. */
  listeners: readonly Listener[] = [];
  /** The udp:// sockets this process serves (docs/design.md §16), closed first on stop. */
  datagramListeners: readonly DatagramListener[] = [];
  readonly datagrams: DatagramServer;
  private stopping: Promise<void> | undefined;
  /** Channels shared with other hosts (`--pubsub`). */
  private bridge: RedisBridge | undefined;

  /** `origin` is shared by the workers of one server: the Redis bridge skips what they published. */
  constructor(readonly app: App, id: number, private readonly origin: Buffer = randomBytes(ORIGIN_BYTES)) {
    this.server = new ConnectionSet(app);
    this.datagrams = new DatagramServer(this.server, app.cfg);
    this.worker = { id, pid: process.pid, name: app.name, app, cfg: app.cfg, stats: this.server };
  }

  get state(): 'running' | 'stopping' {
    return this.stopping ? 'stopping' : 'running';
  }

  async start(): Promise<void> {
    const { app } = this;
    if (app.cfg.pubsub !== undefined) {
      this.bridge = await RedisBridge.open({ url: app.cfg.pubsub, prefix: app.cfg.pubsub_prefix, origin: this.origin, channels: app.pubsub.local, log: app.log });
      app.pubsub.remote = this.bridge;
    }
    await this.app.hooks.workerStart.promise(this.worker);
    this.server.start();
    this.datagrams.start(this.datagramListeners);
    releaseCompiler(); // everything is loaded: keep the serving heap small
  }

  /**
   * A second, quick stop during a graceful one closes what is left at once; a stop during a
   * lingering one (a reload) ends the lingering. See ConnectionSet.shutdown for `linger`.
   */
  stop(mode: StopMode, linger = false): Promise<void> {
    if (this.stopping && mode === 'quick') for (const c of this.server.connections) c.destroy();
    if (this.stopping && !linger) this.server.endLinger();
    return (this.stopping ??= (async () => {
      // Only where this process closes listeners of its own (workers 0), and not on a reload.
      if (mode === 'graceful' && !linger && this.listeners.length > 0) await queuedAccepted();
      const closed = Promise.all([closeAll(this.listeners), this.datagrams.close()]);
      await this.server.shutdown(mode === 'graceful' ? this.app.cfg.graceful_timeout * 1000 : 0, linger && mode === 'graceful');
      this.bridge?.close();
      await this.app.hooks.workerStop.promise(this.worker); // failing taps are logged by the hook guard
      await closed;
    })());
  }

  /** This process's entry in the info document's `workers` (docs/design.md §9). */
  entry(): WorkerInfo {
    const s = this.server;
    return {
      server: this.app.name, id: this.worker.id, pid: process.pid, uptime: (Date.now() - this.started) / 1000,
      state: this.state, requests: s.requests, connections: { active: s.active, received: s.received },
      memory: process.memoryUsage.rss(), droppedLogLines: droppedLogLines(), stats: s.snapshot(), hooks: tapTimes(this.app.hookTimes),
    };
  }
}
