import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Discovery } from './discovery.js';
import { BUNDLED_PROTOCOLS, type Cfg } from '../config/core-settings.js';
import { StartupError, UsageError } from '../errors.js';
import { createHooks, guardHooks, type HookName, type HookTimes, type Hooks } from './hooks.js';
import { DEFAULT_BUCKETS } from '../net/request-times.js';
import { defaultExport, importModule } from '../config/import-module.js';
import { errorLocation, firstLine } from '../config/error-location.js';
import { createLogger, type Logger, type LogSink } from '../logger.js';
import type { LoadedPlugin } from './load-plugins.js';
import { type Handler, type Protocol, type ProtocolMode, STREAM } from '../net/protocol.js';
import type { ServerStats, StatsSnapshot } from '../net/connection-set.js';
import type { ResolvedSettings } from '../config/registry.js';
import { startupStep } from './startup-step.js';
import type { TlsTerminator } from '../net/tls.js';
import type { Address } from '../address.js';
import { listenAddresses } from '../activation.js';
import { PubSub } from '../net/pubsub.js';

/** What `monitorStart` taps get: one server's bound sockets, before workers spawn. */
export interface Monitor {
  readonly name: string;
  readonly app: App;
  readonly cfg: Cfg;
  /** Addresses as bound (real ports). */
  readonly addresses: readonly string[];
  /** Every worker's info entry (pid, state, requests, stats...), asked now; with workers 0, this process's. */
  workers(): Promise<WorkerInfo[]>;
  /**
   * Each worker's counters as it last reported them (App.reportStats: every second, and before
   * it answers info), workers that exited included until `onWorkerExit` has had them; with
   * workers 0, this process's now.
   */
  figures(): WorkerFigures[];
  /**
   * `listener` gets each worker's last counters once it has exited: its final ones when it
   * stopped gracefully (after its drain), else those of its last report. Never with workers 0.
   */
  onWorkerExit(listener: (gone: WorkerFigures) => void): void;
  /** Worker processes started to replace one, by why, since start. */
  readonly restarts: Readonly<Record<RestartReason, number>>;
}

/** One worker's counters, as Monitor.figures gives them. */
export interface WorkerFigures {
  readonly id: number;
  readonly pid: number;
  readonly stats: StatsSnapshot;
}

/**
 * Why a worker was replaced: it died (crash), its heartbeat stopped (timeout), it served
 * max_requests, or a reload (HUP) replaced it.
 */
export type RestartReason = 'crash' | 'timeout' | 'max_requests' | 'reload';

/** No restarts yet: every reason at 0. */
export function noRestarts(): Record<RestartReason, number> {
  return { crash: 0, timeout: 0, max_requests: 0, reload: 0 };
}

/** What `workerStart` taps get: the process about to accept connections. */
export interface Worker {
  /** 0 when the arbiter serves itself. */
  readonly id: number;
  readonly pid: number;
  readonly name: string;
  readonly app: App;
  readonly cfg: Cfg;
  readonly stats: ServerStats;
}

/**
 * The info document (docs/design.md §9), as `ss info --json` prints it: the arbiter, each server, each
 * worker, and what the arbiter's `info` taps added.
 */
export interface InfoDocument {
  readonly arbiter: ArbiterInfo;
  readonly monitors: MonitorInfo[];
  readonly workers: WorkerInfo[];
  /** What `info` taps added. */
  [key: string]: unknown;
}

/** The process that answers info: the arbiter, or with workers 0 the one serving process. */
export interface ArbiterInfo {
  readonly pid: number;
  readonly name: string;
  /** Seconds since it started. */
  readonly uptime: number;
  readonly version: string;
  readonly state: 'running' | 'stopping' | 'reloading';
  /** Log lines it dropped because their destination was not taking them. */
  readonly droppedLogLines: number;
}

/** One server (a Monitor): its bound addresses, its workers wanted and alive, its restarts by why. */
export interface MonitorInfo {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly workers: { readonly wanted: number; readonly alive: number };
  readonly restarts: Readonly<Record<RestartReason, number>>;
}

/**
 * One worker's entry (with workers 0, the serving process's). Its counters are absent while it
 * boots or when it did not answer in time; `error` says why its `info` taps failed.
 */
export interface WorkerInfo {
  readonly server: string;
  readonly id: number;
  readonly pid: number;
  /** Seconds since it started. */
  readonly uptime: number;
  readonly state: 'running' | 'stopping' | 'draining' | 'retiring' | 'booting' | 'not answering';
  readonly requests?: number;
  readonly connections?: { readonly active: number; readonly received: number };
  /** Resident memory, bytes. */
  readonly memory?: number;
  /** Log lines it dropped because their destination was not taking them. */
  readonly droppedLogLines?: number;
  readonly stats?: StatsSnapshot;
  readonly hooks?: HookTimesInfo;
  readonly error?: string;
  /** What the worker's `info` taps added (the metrics plugin's `metrics`). */
  [key: string]: unknown;
}

/** Tap times by plugin, then hook. */
export type HookTimesInfo = Record<string, Record<string, TapTimeInfo>>;

/** A tap's calls, the timed ones and their seconds (ss top reads their growth), and the mean µs of a timed call. */
export interface TapTimeInfo {
  readonly calls: number;
  readonly sampled: number;
  readonly seconds: number;
  readonly meanUs: number | null;
}

/** What an `info` tap gets and returns: in a worker, that worker's entry; in the arbiter, the whole document. */
export type Info = InfoDocument | WorkerInfo;

/** Where an `info` tap runs: over a worker's entry, or over the arbiter's whole document. */
export type InfoPlace = 'worker' | 'arbiter';

const echo: Handler<unknown, unknown> = (message) => message;

/**
 * One server's application: its settings, hooks and plugins applied, its protocol
 * factory and handler. Plugins tap `app.hooks`; `app.cfg` holds every setting.
 */
export class App {
  readonly hooks: Hooks = createHooks();
  /** Channels for this server's connections: subscribe, publish (docs/design.md §15). */
  readonly pubsub = new PubSub(this.hooks);
  readonly cfg: Cfg;
  readonly name: string;
  readonly log: Logger;
  readonly protocol: (cfg: Cfg, mode?: ProtocolMode) => Protocol<unknown, unknown>;
  handler: Handler = echo;
  /** TLS for every bind, when a certfile is set. */
  tls: TlsTerminator | undefined;
  /** Sampled time of each plugin's per-connection and per-request taps (`ss top`). */
  readonly hookTimes: HookTimes = new Map();
  /** The hooks each plugin tapped (for `ss plugins`), by plugin name, in the order it tapped them. */
  readonly tapped = new Map<string, HookName[]>();
  /** Set by `timeRequests`: every request's handler time goes into a histogram with these bounds. */
  requestBuckets: readonly number[] | undefined;
  /** Set by `reportStats`: workers send their counters to the arbiter. */
  reportsStats = false;
  private applying: string | undefined;

  private constructor(
    readonly discovery: Discovery,
    readonly settings: ResolvedSettings,
    readonly plugins: readonly LoadedPlugin[],
    protocolPlugin: LoadedPlugin,
    logTo: LogSink | undefined,
  ) {
    this.cfg = settings.values as Cfg;
    this.name = this.cfg.name ?? protocolPlugin.plugin.name;
    this.log = createLogger(this.cfg.log_level, this.name, this.cfg.log_format, logTo);
    this.protocol = protocolPlugin.plugin.protocol!;
    guardHooks(this.hooks, {
      log: this.log,
      currentPlugin: () => this.applying,
      startupTimeout: () => this.cfg.plugin_timeout * 1000,
      times: this.hookTimes,
      registered: (plugin, hook) => {
        let hooks = this.tapped.get(plugin);
        if (hooks === undefined) this.tapped.set(plugin, hooks = []);
        if (!hooks.includes(hook)) hooks.push(hook);
      },
    });
  }

  /**
   * Build the app: check there is one protocol, apply every plugin, load the handler. Its log
   * goes to stderr, or as JSON lines to `logTo` (a test's, to read them).
   */
  static async create(discovery: Discovery, settings: ResolvedSettings, logTo?: LogSink): Promise<App> {
    const plugins = discovery.plugins;
    const protocols = plugins.filter((p) => p.plugin.protocol);
    if (protocols.length === 0) {
      throw new UsageError(`no protocol: name a protocol plugin with --plugin (${BUNDLED_PROTOCOLS}) or in the config's plugins`);
    }
    if (protocols.length > 1) {
      throw new UsageError(`plugins ${protocols.map((p) => `"${p.plugin.name}"`).join(' and ')} each supply a protocol; a server has one`);
    }
    const app = new App(discovery, settings, plugins, protocols[0]!, logTo);
    app.tls = await app.loadTls();
    await app.applyPlugins();
    app.handler = await app.loadHandler();
    return app;
  }

  private async applyPlugins(): Promise<void> {
    for (const { plugin } of this.plugins) {
      if (!plugin.apply) continue;
      this.applying = plugin.name;
      try {
        await startupStep(() => plugin.apply!(this), this.cfg.plugin_timeout * 1000, `plugin "${plugin.name}"`, 'apply');
      } finally {
        this.applying = undefined;
      }
    }
  }

  /** Where this server listens, one of `servers` in its config: its bind, or the sockets systemd passed (activation.ts). */
  addresses(servers: number): readonly Address[] {
    return listenAddresses(this.cfg.bind, this.settings.sources.bind!.kind === 'default', this.discovery.server, servers);
  }

  /** A setting's file path, relative to the config file's folder when set there, else to the working directory. */
  private settingPath(name: string, given: string): string {
    const source = this.settings.sources[name]!;
    return resolve(source.kind === 'config' && this.discovery.config ? this.discovery.config.dir : this.discovery.cwd, given);
  }

  /** TLS is on when certfile is set; it and keyfile go together. The certificate is read here: a bad one fails start-up (and a reload). */
  private async loadTls(): Promise<TlsTerminator | undefined> {
    const cfg = this.cfg;
    const named = (name: string) => this.discovery.registry.nameSource(name, this.settings.sources[name]!);
    if (cfg.certfile === undefined && cfg.keyfile === undefined) return undefined;
    if (cfg.certfile === undefined) throw new UsageError(`${named('keyfile')} needs certfile (--certfile): TLS takes both`);
    if (cfg.keyfile === undefined) throw new UsageError(`${named('certfile')} needs keyfile (--keyfile): TLS takes both`);
    const { TlsTerminator } = await import('../net/tls.js'); // node:tls only for a TLS server
    return new TlsTerminator({
      certfile: this.settingPath('certfile', cfg.certfile), keyfile: this.settingPath('keyfile', cfg.keyfile),
      caCerts: cfg.ca_certs === undefined ? undefined : this.settingPath('ca_certs', cfg.ca_certs),
      certReqs: cfg.cert_reqs, ciphers: cfg.ciphers, minVersion: cfg.tls_min_version, alpn: cfg.alpn,
      handshakeTimeoutMs: cfg.tls_handshake_timeout * 1000, name: this.name,
    });
  }

  private async loadHandler(): Promise<Handler> {
    const given = this.cfg.handler;
    if (typeof given === 'function') return given as Handler;
    if (typeof given === 'string') {
      const source = this.settings.sources.handler!;
      const base = source.kind === 'config' && this.discovery.config ? this.discovery.config.dir : this.discovery.cwd;
      const file = resolve(base, given);
      if (!existsSync(file)) throw new UsageError(`invalid ${this.discovery.registry.nameSource('handler', source)} "${given}": no such module ${file}`);
      let mod: unknown;
      try {
        mod = await importModule(file, { fresh: this.discovery.fresh });
      } catch (err) {
        throw new StartupError(`handler ${file} failed to load: ${firstLine(err)}`, { location: errorLocation(err, file) });
      }
      const handler = defaultExport(mod);
      if (typeof handler !== 'function') throw new UsageError(`handler ${file}: the default export is not a function (message, request) => response`);
      return handler as Handler;
    }
    const supplying = this.plugins.filter((p) => p.plugin.handler);
    if (supplying.length > 1) {
      throw new UsageError(`plugins ${supplying.map((p) => `"${p.plugin.name}"`).join(' and ')} each supply a handler; choose one with --handler`);
    }
    if (supplying.length === 0) return echo;
    const { plugin } = supplying[0]!;
    let made: unknown;
    try {
      made = plugin.handler!(this.cfg);
    } catch (err) {
      throw new StartupError(`plugin "${plugin.name}": handler(cfg) failed: ${firstLine(err)}`, { location: errorLocation(err) });
    }
    if (typeof made !== 'function') throw new UsageError(`plugin "${plugin.name}": handler(cfg) returned ${made === null ? 'null' : typeof made}, not a function (message, request) => response`);
    return made as Handler;
  }

  /**
   * Keep a histogram of every request's handler time (bounds in seconds), read through the
   * worker's stats (`Worker.stats.snapshot().times`). Call it in `apply`; without it, handler time is only sampled.
   */
  timeRequests(buckets: readonly number[] = DEFAULT_BUCKETS): void {
    this.requestBuckets = buckets;
  }

  /**
   * Have each worker send its counters (`Worker.stats.snapshot()`) to the arbiter every second,
   * before it answers info, and once more when it stops, after its drain: the arbiter's
   * `Monitor.figures()` and `onWorkerExit` then have them, so that totals kept there outlive
   * the workers. Call it in `apply`.
   */
  reportStats(): void {
    this.reportsStats = true;
  }

  /** A fresh protocol instance, for one connection or (DATAGRAM) one datagram. */
  newProtocol(mode: ProtocolMode = STREAM): Protocol<unknown, unknown> {
    return this.protocol(this.cfg, mode);
  }

  /** Run the `info` waterfall over `base`: a worker's entry, or the arbiter's document, with what the taps added. */
  info<T extends Info>(base: T, place: InfoPlace): Promise<T> {
    return this.hooks.info.promise(base, place) as Promise<T>;
  }
}
