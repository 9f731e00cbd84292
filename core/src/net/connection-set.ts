import type { DatagramStats } from './datagram.js';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import { Connection, FRESH_GRACE_MS, type CloseReason, type Request } from './connection.js';
import { RequestTimes, type TimesSnapshot } from './request-times.js';
import type { Handler, Protocol, ProtocolMode } from './protocol.js';
import { ProxyStage, type ProxyInfo } from './proxy-stage.js';
import { formatPeer, type AllowEntry } from '../address.js';
import type { NativeHandle } from './native-handle.js';
import { plainSocket, streamSocket } from './read-slab.js';
import type { TlsInfo, TlsTerminator } from './tls.js';
import type { ProxyMode } from './proxy-header.js';
import type { PubSubStats } from './channels.js';
import type { PubSub } from './pubsub.js';

/** A synchronous hook as the connection loop calls it (a tapable SyncHook is one). */
export interface SyncTaps<A extends unknown[]> {
  readonly taps: readonly unknown[];
  call(...args: A): void;
}

/**
 * Why a connection closed before it was a Connection: its PROXY header was refused or never
 * came (proxy_error), its TLS handshake failed or timed out (tls_error).
 */
export type AcceptCloseReason = 'proxy_error' | 'tls_error';

/**
 * A connection closed in an accept stage (PROXY header, TLS handshake), never served:
 * `connectionFailed`'s argument, with the fields of a Connection an access line reads.
 */
export interface FailedConnection {
  /** Unique within the process, from the same count as connections' ids. */
  readonly id: number;
  /** The client as `host:port`: the PROXY header's source when it was read, else the socket's peer. */
  readonly peer: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Set when the PROXY header was read (a TLS handshake failed after it). */
  readonly proxy: ProxyInfo | undefined;
  /** The accepted socket (the plain one under a TLS handshake), already closed: for its byte counts, as on the wire. */
  readonly socket: Socket;
  readonly requests: 0;
  readonly closeReason: AcceptCloseReason | 'shutdown' | 'reset';
  /** When it was accepted (Date.now()). */
  readonly openedAt: number;
}

/** The per-connection and per-request hooks of docs/design.md §5. */
export interface ConnectionHooks {
  readonly connectionMade: SyncTaps<[Connection]>;
  readonly preRequest: SyncTaps<[Request]>;
  readonly postRequest: SyncTaps<[Request, unknown]>;
  readonly connectionLost: SyncTaps<[Connection, Error | undefined]>;
  readonly connectionFailed: SyncTaps<[FailedConnection, Error]>;
  /** A handler failed: a reply to send instead of closing (undefined: close). */
  readonly handlerError: { readonly taps: readonly unknown[]; call(error: Error, request: Request): unknown };
}

/**
 * What serving needs of the application: its log, limits, handler, a protocol per
 * connection and the hooks to call. An `App` is one; the network layer knows no more of it.
 */
export interface ServedApp {
  readonly log: Logger;
  readonly cfg: {
    readonly keep_alive: number; readonly frame_timeout: number; readonly backlog: number; readonly max_connections_per_ip: number;
    readonly handler_timeout: number; readonly max_client_memory: number; readonly maxmemory_clients: number;
    readonly push_output_limit: number; readonly push_output_soft_limit: number; readonly push_output_soft_seconds: number;
    readonly proxy_protocol: ProxyMode | 'off'; readonly proxy_allow_from: readonly AllowEntry[]; readonly proxy_header_timeout: number;
  };
  readonly handler: Handler;
  readonly hooks: ConnectionHooks;
  /** Set when the server speaks TLS (a certfile is given). */
  readonly tls?: TlsTerminator | undefined;
  /** Channels for handlers and hooks (`connection.pubsub`); a closing connection leaves them. */
  readonly pubsub?: PubSub | undefined;
  /** Histogram buckets (seconds) when every request's handler time is to be kept (a metrics plugin asked). */
  readonly requestBuckets?: readonly number[] | undefined;
  newProtocol(mode?: ProtocolMode): Protocol<unknown, unknown>;
}

/** The address a client is counted under: an IPv4 client of a dual-stack listener as its IPv4 address; a unix-socket peer (none) is not counted. */
function clientAddress(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The hook to call per request, or undefined when nothing taps it (so an untapped hook costs one check). */
function tapped<H extends { readonly taps: readonly unknown[] }>(hook: H): H | undefined {
  return hook.taps.length > 0 ? hook : undefined;
}

/** Lines about single connections a process logs per second, at most (the rest are counted). */
const CONNECTION_LINES_PER_SECOND = 10;

/**
 * At most `perSecond` lines a second from one source; those over are counted, and the
 * count is told (`summary`) once that second is up. Per-connection lines come from
 * clients, and the log is written synchronously: a flood must cost neither stderr nor
 * the event loop.
 */
class LogThrottle {
  private windowStart = -Infinity;
  private used = 0;
  private over = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly perSecond: number, private readonly summary: (over: number) => void) {}

  /** True if a line may be written now; false if it is counted instead. */
  take(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.report();
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.perSecond) {
      this.used++;
      return true;
    }
    if (this.over++ === 0) this.timer = setTimeout(() => this.report(), this.windowStart + 1000 - now).unref();
    return false;
  }

  /** Tell how many were held back, if any. */
  private report(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const over = this.over;
    if (over === 0) return;
    this.over = 0;
    this.summary(over);
  }
}

/**
 * Why connections close, as counted: a Connection's reasons, those of an accept stage
 * (proxy_error, tls_error), and the refusals of sockets never served: `refused` (over backlog)
 * and `per_ip_limit` (over max_connections_per_ip).
 */
export const CLOSE_REASONS = [
  'clean', 'idle', 'bad_input', 'handler_error', 'handler_timeout', 'memory_limit', 'slow_consumer', 'reset', 'shutdown', 'refused',
  'proxy_error', 'tls_error', 'per_ip_limit',
] as const satisfies readonly (CloseReason | AcceptCloseReason | 'refused' | 'per_ip_limit')[];

/** Connections closed, by why. */
export type ClosedCounts = Record<typeof CLOSE_REASONS[number], number>;

/** One process's figures, as counted so far (plain numbers: read when asked, never pushed). */
export interface StatsSnapshot {
  readonly connections: {
    readonly active: number; readonly accepted: number; readonly closed: Readonly<ClosedCounts>;
    /** Bytes the open connections hold, as max_client_memory counts them. */
    readonly memory: number;
  };
  readonly requests: number;
  /** Pushes sent (connection.send, channels). */
  readonly pushes: number;
  /** Channels, subscribers and messages (app.pubsub), in this process. */
  readonly pubsub?: PubSubStats;
  /** Datagrams of the udp:// binds this process reads (docs/reference/udp.md), when it reads any. */
  readonly datagrams?: DatagramStats;
  /** Bytes read from and written to clients (closed connections, plus what the open ones have so far). */
  readonly bytes: { readonly received: number; readonly sent: number };
  /** Handler time: a histogram of every request when a plugin asked for one (app.timeRequests). */
  readonly times?: TimesSnapshot;
  /** Handler time, sampled (one request in SAMPLE_EVERY, or every one with a histogram): how many and their seconds. */
  readonly handler: { readonly sampled: number; readonly seconds: number };
}

/** Counters a worker reports in info. */
export interface ServerStats {
  readonly active: number;
  readonly received: number;
  readonly requests: number;
  snapshot(): StatsSnapshot;
}

/**
 * Serves the connections of one process across all its listeners: the per-process
 * cap on concurrent clients (backlog), the keep-alive timeout, and graceful shutdown.
 * Connections accepted before `start()` wait (unread) until start-up is done.
 */
export class ConnectionSet implements ServerStats {
  readonly connections = new Set<Connection>();
  received = 0;
  requests = 0;
  /** Every request's handler time, when a plugin asked for it. */
  readonly times: RequestTimes | undefined;
  private readonly closed = Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])) as ClosedCounts;
  /** Bytes of connections already closed. */
  private bytesReceived = 0;
  private bytesSent = 0;
  private handlerSampled = 0;
  private handlerSeconds = 0;
  /** `limitReached` is called when `requests` reaches this (max_requests). */
  requestLimit = Infinity;
  limitReached: () => void = () => {};
  readonly log: Logger;
  readonly keepAliveMs: number;
  /** How long a partial message may stay pending (frame_timeout); 0 = no limit. */
  readonly frameTimeoutMs: number;
  /** How long a request may wait for its handler (handler_timeout); 0 = no limit. */
  readonly handlerTimeoutMs: number;
  /** Bytes one connection may hold, and all of them together (Infinity: no limit). */
  readonly maxClientMemory: number;
  readonly maxmemoryClients: number;
  /** @internal Bytes the open connections hold, as each last counted it (Connection.account). */
  clientMemory = 0;
  /** Unread output a connection that is pushed to may have (hard; soft for a time). Infinity: no limit. */
  readonly pushOutputLimit: number;
  readonly pushOutputSoftLimit: number;
  readonly pushOutputSoftMs: number;
  /** @internal The datagram counters to report, as `{ datagrams }` (set by the process serving them). */
  datagramStats: (() => { datagrams: DatagramStats } | undefined) | undefined;
  /** Pushes sent (connection.send) so far. */
  pushes = 0;
  readonly handler: Handler;
  // Per-request hooks, undefined when untapped (snapshotted at start: tap in apply or workerStart).
  preRequest: ConnectionHooks['preRequest'] | undefined;
  postRequest: ConnectionHooks['postRequest'] | undefined;
  handlerError: ConnectionHooks['handlerError'] | undefined;
  private connectionMade: ConnectionHooks['connectionMade'] | undefined;
  private connectionLost: ConnectionHooks['connectionLost'] | undefined;
  private connectionFailed: ConnectionHooks['connectionFailed'] | undefined;
  private readonly backlog: number;
  /** max_connections_per_ip (0: no limit), and the connections open per client address when there is one. */
  private readonly perIpLimit: number;
  private readonly perIp: Map<string, number> | undefined;
  private readonly perIpRefusals: LogThrottle;
  private nextId = 0;
  private started = false;
  private stopping = false;
  private early: Socket[] = [];
  /** TLS sockets still in their handshake: count toward backlog; a drain gives them FRESH_GRACE_MS and waits for them. */
  private readonly handshakes = new Set<Socket>();
  private readonly refusals: LogThrottle;
  private readonly connectionLines: LogThrottle;
  /** The PROXY protocol header stage every accepted socket goes through first, when proxy_protocol is on. */
  private readonly proxyStage: ProxyStage | undefined;
  private idleWaiters: (() => void)[] = [];
  private lingerOver: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** Milliseconds between sweeps, while the sweeper runs. */
  private sweepEvery = Infinity;

  constructor(readonly app: ServedApp) {
    this.log = app.log;
    this.keepAliveMs = app.cfg.keep_alive * 1000;
    this.frameTimeoutMs = app.cfg.frame_timeout * 1000;
    this.handlerTimeoutMs = app.cfg.handler_timeout * 1000;
    this.maxClientMemory = app.cfg.max_client_memory || Infinity;
    this.maxmemoryClients = app.cfg.maxmemory_clients || Infinity;
    this.pushOutputLimit = app.cfg.push_output_limit || Infinity;
    this.pushOutputSoftLimit = app.cfg.push_output_soft_limit || Infinity;
    this.pushOutputSoftMs = app.cfg.push_output_soft_seconds * 1000;
    this.backlog = app.cfg.backlog;
    this.handler = app.handler;
    this.times = app.requestBuckets ? new RequestTimes(app.requestBuckets) : undefined;
    this.refusals = new LogThrottle(1, (n) => this.sayRefused(n));
    this.perIpLimit = app.cfg.max_connections_per_ip;
    this.perIp = this.perIpLimit > 0 ? new Map() : undefined;
    this.perIpRefusals = new LogThrottle(1, (n) => this.log.warn({ refused: n, max_connections_per_ip: this.perIpLimit },
      `${n} more connection(s) refused: over max_connections_per_ip=${this.perIpLimit}`));
    this.connectionLines = new LogThrottle(CONNECTION_LINES_PER_SECOND, (n) => this.log.warn({ suppressed: n },
      `${n} more connection log line(s) suppressed (at most ${CONNECTION_LINES_PER_SECOND} a second)`));
    const cfg = app.cfg;
    if (cfg.proxy_protocol !== 'off') {
      this.proxyStage = new ProxyStage({
        mode: cfg.proxy_protocol, allow: cfg.proxy_allow_from, timeoutMs: cfg.proxy_header_timeout * 1000,
        log: (fields, line) => this.connectionLog('warn', fields, line),
        closed: (socket, reason, why, openedAt) => this.failed(socket, reason, why, openedAt, undefined),
        settled: () => this.settled(),
      });
    }
  }

  get active(): number {
    return this.connections.size;
  }

  /** @internal A timed request's handler finished (`started`: performance.now() when it was called). */
  handled(started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.handlerSampled++;
    this.handlerSeconds += seconds;
    this.times?.observe(seconds);
  }

  /** @internal `count` requests answered synchronously in one read that began at `started`: each took the mean. */
  handledBatch(started: number, count: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.handlerSampled += count;
    this.handlerSeconds += seconds;
    this.times!.observe(seconds / count, count);
  }

  snapshot(): StatsSnapshot {
    let received = this.bytesReceived;
    let sent = this.bytesSent;
    for (const c of this.connections) {
      received += c.socket.bytesRead;
      sent += c.socket.bytesWritten;
    }
    return {
      connections: { active: this.connections.size, accepted: this.received, closed: { ...this.closed }, memory: this.clientMemory },
      requests: this.requests,
      pushes: this.pushes,
      ...(this.app.pubsub ? { pubsub: this.app.pubsub.stats() } : {}),
      ...(this.datagramStats?.() ?? {}),
      bytes: { received, sent },
      ...(this.times ? { times: this.times.snapshot() } : {}),
      handler: { sampled: this.handlerSampled, seconds: this.handlerSeconds },
    };
  }

  /** @internal A fresh protocol instance for a new connection, or (DATAGRAM) a datagram. */
  newProtocol(mode?: ProtocolMode): Protocol<unknown, unknown> {
    return this.app.newProtocol(mode);
  }

  /** Begin serving, including connections that arrived during start-up. */
  start(): void {
    const hooks = this.app.hooks;
    this.preRequest = tapped(hooks.preRequest);
    this.postRequest = tapped(hooks.postRequest);
    this.handlerError = tapped(hooks.handlerError);
    this.connectionMade = tapped(hooks.connectionMade);
    this.connectionLost = tapped(hooks.connectionLost);
    this.connectionFailed = tapped(hooks.connectionFailed);
    this.started = true;
    const shortest = Math.min(this.keepAliveMs || Infinity, this.frameTimeoutMs || Infinity, this.handlerTimeoutMs || Infinity);
    if (shortest !== Infinity) this.sweepWithin(shortest);
    const early = this.early;
    this.early = [];
    for (const socket of early) if (!socket.destroyed) this.accept(socket);
  }

  /** A listener's `connection` event. */
  readonly accept = (socket: Socket): void => {
    if (!this.started) {
      this.early.push(socket);
      return;
    }
    this.received++;
    if (this.connections.size + this.accepting >= this.backlog) {
      this.refuse(socket);
      return;
    }
    // plain socket -> PROXY header (when on) -> TLS handshake (when on) -> Connection
    if (this.proxyStage !== undefined) this.proxyStage.run(socket, this.open);
    else this.open(socket, undefined);
  };

  /**
   * A connection accepted as its native handle (every listener of ours takes them so): without
   * an accept stage the Connection reads it first, through the read slab.
   */
  readonly acceptHandle = (handle: NativeHandle): void => {
    this.accept(this.proxyStage === undefined && this.app.tls === undefined ? plainSocket(handle) : streamSocket(handle));
  };

  /**
   * The accepted socket, past the PROXY stage (if on; then paused, its leftover bytes unshifted,
   * and `openedAt` is when it was accepted). Counted against max_connections_per_ip from here on.
   */
  private readonly open = (socket: Socket, proxy: ProxyInfo | undefined, openedAt?: number): void => {
    let perIp: string | undefined;
    if (this.perIp !== undefined) {
      perIp = clientAddress(proxy?.source?.address ?? socket.remoteAddress);
      if (perIp !== undefined && !this.countIp(perIp)) {
        this.refusePerIp(socket, perIp);
        return;
      }
    }
    const tls = this.app.tls;
    if (tls === undefined) this.serve(socket, undefined, proxy, perIp);
    else this.handshake(tls, socket, proxy, perIp, openedAt ?? Date.now());
  };

  /** Run the TLS handshake; serve the connection once it is done, log (within budget) why not. */
  private handshake(tls: TlsTerminator, socket: Socket, proxy: ProxyInfo | undefined, perIp: string | undefined, openedAt: number): void {
    const source = proxy?.source;
    const peer = source ? formatPeer(source.address, source.port) : formatPeer(socket.remoteAddress, socket.remotePort);
    const secure = tls.wrap(socket, (secured, info) => {
      this.settle(secure);
      if (secured.destroyed) {
        this.failed(socket, 'reset', 'closed by the client as the handshake completed', openedAt, proxy, peer, perIp);
        return;
      }
      this.serve(secured, info, proxy, perIp);
    }, (err) => {
      this.settle(secure);
      const stopping = this.stopping; // then closed by our shutdown
      if (!stopping) this.connectionLog('warn', { peer, err: err.message }, `TLS handshake with ${peer} failed: ${err.message.split('\n')[0]}; closed`);
      this.failed(socket, stopping ? 'shutdown' : 'tls_error', err, openedAt, proxy, peer, perIp);
    });
    // Not resumed here: the TLS socket reads what the proxy stage put back, then the handle itself.
    this.handshakes.add(secure);
  }

  /**
   * A socket closed in an accept stage, never served: counted by why, its bytes added, its
   * per-address slot freed, and told to `connectionFailed` taps (an access log).
   */
  private failed(socket: Socket, reason: FailedConnection['closeReason'], why: string | Error, openedAt: number,
    proxy: ProxyInfo | undefined, peer?: string, perIp?: string): void {
    this.closed[reason]++;
    this.bytesReceived += socket.bytesRead;
    this.bytesSent += socket.bytesWritten;
    if (perIp !== undefined) this.releaseIp(perIp);
    const hook = this.connectionFailed;
    if (hook === undefined) return;
    const source = proxy?.source;
    // A socket that closed before its address was asked no longer has it (a peer is then `-`).
    const remoteAddress = source !== undefined ? source.address : socket.remoteAddress;
    const remotePort = source !== undefined ? source.port : socket.remotePort;
    hook.call({
      id: ++this.nextId, peer: peer ?? formatPeer(remoteAddress, remotePort), remoteAddress, remotePort, proxy, socket,
      requests: 0, closeReason: reason, openedAt,
    }, typeof why === 'string' ? new Error(why) : why);
  }

  /** One more connection from `address`, if that keeps it within max_connections_per_ip. */
  private countIp(address: string): boolean {
    const map = this.perIp!;
    const open = map.get(address) ?? 0;
    if (open >= this.perIpLimit) return false;
    map.set(address, open + 1);
    return true;
  }

  /** A connection counted against its address closed. */
  private releaseIp(address: string): void {
    const map = this.perIp!;
    const open = map.get(address)!;
    if (open <= 1) map.delete(address);
    else map.set(address, open - 1);
  }

  /** Over max_connections_per_ip: close at once; say so at most once a second, with a count of the rest. */
  private refusePerIp(socket: Socket, address: string): void {
    this.closed.per_ip_limit++;
    socket.on('error', () => {});
    socket.destroy();
    if (this.perIpRefusals.take()) {
      this.log.warn({ client: address, refused: 1, max_connections_per_ip: this.perIpLimit },
        `connection from ${address} refused: already ${this.perIpLimit} open from that address (max_connections_per_ip)`);
    }
  }

  private serve(socket: Socket, tls: TlsInfo | undefined, proxy: ProxyInfo | undefined, perIp: string | undefined): void {
    const connection = new Connection(this, socket, ++this.nextId, proxy);
    connection.perIp = perIp;
    connection.tls = tls;
    if (proxy !== undefined && tls === undefined) socket.resume(); // the proxy stage paused it; the Connection now listens
    this.connections.add(connection);
    // Node keeps a socket's address once it has been asked, and cannot tell it after the close:
    // a connectionLost tap (an access log) reads `peer` then.
    if (this.connectionLost !== undefined) void socket.remoteAddress;
    if (this.connectionMade !== undefined) this.connectionMade.call(connection);
    if (this.stopping) connection.shutdown(); // handed over just before a drain: answered once, then closed
  }

  /**
   * @internal Sweep often enough for a timeout of `ms`. One timer for every connection (as
   * Node's http server does) rather than one each: idle connections stay small. An idle one is
   * closed after keep_alive to keep_alive + period, a message still incomplete after
   * frame_timeout to frame_timeout + period; a protocol's wake (ProtocolLink.wake) comes as late.
   */
  sweepWithin(ms: number): void {
    const period = Math.min(1000, Math.max(50, ms / 4));
    if (this.stopping || period >= this.sweepEvery) return;
    clearInterval(this.sweeper);
    this.sweepEvery = period;
    this.sweeper = setInterval(() => this.sweep(), period).unref();
  }

  /**
   * Close the connections that neither read nor wrote for keep_alive, those whose partial
   * message has been arriving for frame_timeout (a trickle is not idle), and those whose
   * oldest request has waited handler_timeout for its handler; wake the protocols that asked.
   */
  private sweep(): void {
    const now = Date.now();
    const idleSince = this.keepAliveMs > 0 ? now - this.keepAliveMs : -Infinity;
    const frameSince = this.frameTimeoutMs > 0 ? now - this.frameTimeoutMs : -Infinity;
    const handlerSince = this.handlerTimeoutMs > 0 ? now - this.handlerTimeoutMs : -Infinity;
    for (const connection of this.connections) {
      if (connection.lastActive <= idleSince) connection.idle();
      const wakeAt = connection.wakeAt;
      if (wakeAt !== 0 && wakeAt <= now) connection.wake(now);
      const since = connection.pendingSince;
      if (since !== 0 && since <= frameSince) connection.frameTimedOut();
      if (handlerSince !== -Infinity && connection.inFlight > 0) {
        const oldest = connection.oldestWaiting;
        if (oldest !== undefined && oldest.since <= handlerSince) connection.handlerTimedOut(oldest);
      }
    }
  }

  /**
   * @internal The open connections hold more than maxmemory_clients together: close the one
   * holding the most, then the next, until the rest fit (Redis's maxmemory-clients). A scan
   * of every connection, but only when over the limit.
   */
  evict(): void {
    while (this.clientMemory > this.maxmemoryClients) {
      let largest: Connection | undefined;
      for (const connection of this.connections) if (largest === undefined || connection.memory > largest.memory) largest = connection;
      if (largest === undefined || largest.memory === 0) return;
      largest.overMemory(largest.memory, 'maxmemory_clients');
    }
  }

  /** Over the cap: close at once; say so at most once a second, with a count of the rest. */
  private refuse(socket: Socket): void {
    this.closed.refused++;
    socket.on('error', () => {});
    socket.destroy();
    if (this.refusals.take()) this.sayRefused(1);
  }

  private sayRefused(n: number): void {
    this.log.warn({ refused: n, backlog: this.backlog }, `${n} connection(s) refused: already serving backlog=${this.backlog} clients`);
  }

  /** @internal A line about one connection: within the per-process budget, or counted. */
  connectionLog(level: 'debug' | 'warn' | 'error', fields: object, line: string): void {
    const log = this.log;
    if (log.isLevelEnabled(level) && this.connectionLines.take()) log[level](fields, line);
  }

  /** @internal */
  remove(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    this.closed[connection.closeReason]++;
    this.bytesReceived += connection.socket.bytesRead;
    this.bytesSent += connection.socket.bytesWritten;
    if (connection.perIp !== undefined) this.releaseIp(connection.perIp);
    if (connection.subscriptions > 0) this.app.pubsub?.local.leave(connection);
    if (this.connectionLost !== undefined) this.connectionLost.call(connection, connection.error);
    this.checkIdle();
  }

  /** A socket left the TLS handshake (done or failed). */
  private settle(socket: Socket): void {
    if (this.handshakes.delete(socket) && this.handshakes.size === 0) this.settled();
  }

  /**
   * The last socket of an accept stage (PROXY header, TLS handshake) is gone. Checked after
   * the stage has handed it on (it settles just before), so a socket becoming a connection
   * does not look idle.
   */
  private settled(): void {
    queueMicrotask(() => this.checkIdle());
  }

  /** Sockets still in an accept stage (PROXY header, TLS handshake). */
  private get accepting(): number {
    return (this.proxyStage?.waiting.size ?? 0) + this.handshakes.size;
  }

  /** A stop during a reload's lingering: close what is left now (see `shutdown`). */
  endLinger(): void {
    this.lingerOver?.();
  }

  /** A stop with accept_grace is coming: health checks (PROXY LOCAL) are refused; clients are still served. */
  quiesce(): void {
    if (this.proxyStage !== undefined) this.proxyStage.refuseLocal = true;
  }

  /** Nothing open and nothing still in an accept stage: a drain is done. */
  private checkIdle(): void {
    if (this.connections.size === 0 && this.accepting === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * Close every connection: idle ones now, busy ones once their replies are written.
   * Whatever is still open after `graceMs` is closed by force. Resolves when none is left.
   *
   * With `linger` (a reload: the listeners are closed and a replacement accepts), the open
   * connections are first served on as before, so no client of a reload is cut off: each ends
   * when its client closes it or keep_alive finds it idle. After `graceMs`, or when
   * `endLinger` is called (a stop), what is left is closed as above, with FRESH_GRACE_MS.
   */
  async shutdown(graceMs: number, linger = false): Promise<void> {
    if (linger && (this.connections.size > 0 || this.accepting > 0)) {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const over = () => {
          clearTimeout(timer);
          this.lingerOver = undefined;
          resolve();
        };
        const timer = setTimeout(over, graceMs);
        this.idleWaiters.push(over);
        this.lingerOver = over;
      });
      graceMs = Math.max(FRESH_GRACE_MS, graceMs - (Date.now() - started));
    }
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const socket of this.early.splice(0)) socket.destroy();
    // A socket still in an accept stage was accepted just before the drain: it gets the grace a
    // fresh connection gets for its first request, then is closed; the drain waits for it.
    this.proxyStage?.drain(FRESH_GRACE_MS);
    for (const socket of this.handshakes) setTimeout(() => { if (this.handshakes.has(socket)) socket.destroy(); }, FRESH_GRACE_MS).unref();
    for (const connection of this.connections) connection.shutdown();
    if (this.connections.size === 0 && this.accepting === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.connections.size > 0) this.log.warn(`closing ${this.connections.size} connection(s) still open after ${graceMs / 1000}s`);
        for (const connection of this.connections) connection.destroy();
        resolve();
      }, graceMs);
    });
    await Promise.race([drained, forced]);
    clearTimeout(timer);
    if (this.connections.size > 0) await drained;
  }
}
