import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Address, Monitor } from '@socketserver/core';
import { gaugesOf, ServerTotals } from './totals.js';
import { figuresRegistry, type ServerFigures } from './figures.js';
import { arbiterRegistry, perServer } from './process-registries.js';

/** What a client of the endpoint may hold, from the plugin's settings. */
export interface EndpointLimits {
  /** Connections open at once. */
  maxConnections: number;
  /** Seconds a client gets to send its whole request (a scrape is a head alone). */
  headerTimeout: number;
}

const MAX_HEADER_BYTES = 8192;
/** A scrape's text serves the scrapes of the next second: the workers are asked once a second at most. */
const CACHE_MS = 1000;
/** A connection with no traffic this long (a reply it does not read) is closed, ms. */
const IDLE_MS = 10_000;

interface Served {
  monitor: Monitor;
  totals: ServerTotals;
  buckets: readonly number[];
}

/**
 * `GET /metrics` on one address, for every server of this process's config that asked for it
 * there: a scrape asks each server's workers for their info (over the arbiter's IPC: process
 * figures and gauges; each sends its counters first) and writes the totals kept in the arbiter
 * out with the arbiter's own process figures. The text serves every scrape of the second that
 * follows, and scrapes meanwhile share the one under way.
 *
 * A client that is slow to send its request is closed by node:http's own timeouts. At most
 * `maxConnections` are open: a newcomer over that closes the oldest connection that has no
 * scrape under way and has never been answered one (a client sending its request slowly, or
 * holding a connection without asking), else the oldest idle between keep-alive scrapes, so
 * that clients holding connections without asking can never keep a scraper out, even one that
 * keeps its connection between scrapes; only when every connection is in the middle of a
 * scrape is the newcomer closed.
 */
export class Endpoint {
  private readonly served = new Map<string, Served>();
  private readonly own = arbiterRegistry();
  /** The scrape under way: scrapes that come meanwhile get its text (one round of IPC at a time). */
  private rendering: Promise<string> | undefined;
  /** The last scrape's text, served until `until` (performance.now(), ms). */
  private cached: { text: string; until: number } | undefined;
  /** Every open connection, oldest first, with how many of its requests are under way. */
  private readonly open = new Map<Socket, number>();
  /** Connections that have been answered a scrape: closed for a newcomer only after those never answered. */
  private readonly answered = new WeakSet<Socket>();
  readonly http: Server;

  constructor(private readonly limits: EndpointLimits) {
    const timeoutMs = Math.round(limits.headerTimeout * 1000);
    this.http = createServer({
      // One deadline for the head and the whole request (a scrape has no body), checked often
      // enough to close a slow client within a fraction of it (node's default check is every 30 s).
      headersTimeout: timeoutMs, requestTimeout: timeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.round(timeoutMs / 5))),
      maxHeaderSize: MAX_HEADER_BYTES,
    }, this.handle);
    this.http.timeout = IDLE_MS;
    // Nothing of ours keeps the process alive: the arbiter exits when its servers have stopped.
    this.http.unref();
    this.http.on('connection', this.connected);
  }

  /** Listen on `addr`; rejects with the system's error (EADDRINUSE...). */
  listen(addr: Address): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      const done = () => {
        this.http.off('error', reject);
        const a = this.http.address();
        resolve(typeof a === 'string' ? `unix:${a}` : formatHost(a!));
      };
      if (addr.kind === 'unix') this.http.listen(addr.path, done);
      else if (addr.kind === 'tcp') this.http.listen(addr.port, addr.host, done);
    });
  }

  /** Serve `monitor`'s figures here (a server of the same name, after a reload, takes its place). */
  add(monitor: Monitor, buckets: readonly number[]): void {
    const had = this.served.get(monitor.name);
    const totals = had?.totals ?? new ServerTotals(buckets);
    this.served.set(monitor.name, { monitor, buckets, totals });
    this.cached = undefined;
    if (had?.monitor !== monitor) monitor.onWorkerExit((gone) => totals.retire(gone.stats));
  }

  private readonly connected = (socket: Socket): void => {
    socket.unref();
    if (this.open.size >= this.limits.maxConnections) {
      let waiting: Socket | undefined;
      for (const [s, busy] of this.open) if (busy === 0 && !this.answered.has(s)) { waiting = s; break; }
      if (waiting === undefined) for (const [s, busy] of this.open) if (busy === 0) { waiting = s; break; }
      if (waiting === undefined) return void socket.destroy();
      this.open.delete(waiting);
      waiting.destroy();
    }
    this.open.set(socket, 0);
    socket.once('close', () => this.open.delete(socket));
  };

  /** A request of `socket` began (`+1`) or was answered (`-1`); one with none under way goes last in line to be closed. */
  private busy(socket: Socket, by: 1 | -1): void {
    const n = this.open.get(socket);
    if (n === undefined) return; // closed meanwhile
    if (n + by === 0) this.open.delete(socket);
    this.open.set(socket, n + by);
  }

  private readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'only GET\n', { allow: 'GET, HEAD' });
    if (path !== '/metrics') return plain(res, 404, 'not found: try /metrics\n');
    const socket = req.socket;
    this.busy(socket, 1);
    void this.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': this.own.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: Error) => {
        for (const s of this.served.values()) s.monitor.app.log.error({ err }, `metrics: scrape failed: ${err.message}`);
        plain(res, 500, 'scrape failed\n');
      },
    ).finally(() => {
      this.answered.add(socket);
      this.busy(socket, -1);
    });
  };

  /** The text of a scrape: the last one's if under a second old, else the one under way or a new one. */
  private text(): Promise<string> {
    const cached = this.cached;
    if (cached !== undefined && performance.now() < cached.until) return Promise.resolve(cached.text);
    this.rendering ??= this.render().then((text) => {
      this.cached = { text, until: performance.now() + CACHE_MS };
      return text;
    }).finally(() => { this.rendering = undefined; });
    return this.rendering;
  }

  private async render(): Promise<string> {
    const processes: object[] = perServer(await this.own.getMetricsAsJSON(), this.served.keys());
    const figures = await Promise.all([...this.served.values()].map(async ({ monitor, totals, buckets }): Promise<ServerFigures> => {
      // A worker that does not answer in time is listed as such: the rest are still written.
      // Each worker sends its counters before it answers: by now the monitor has them.
      const entries = await monitor.workers();
      for (const e of entries) if (Array.isArray(e.metrics)) processes.push(e.metrics as object);
      const gauges = gaugesOf(entries);
      return {
        server: monitor.name, totals: totals.sum(monitor.figures()), buckets, active: gauges.active, pubsub: gauges.pubsub, workers: gauges.workers,
        alive: monitor.cfg.workers === 0 ? 0 : entries.length, restarts: monitor.restarts,
      };
    }));
    return Registry.merge([figuresRegistry(figures), AggregatorRegistry.aggregate(processes)]).metrics();
  }
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function formatHost(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
