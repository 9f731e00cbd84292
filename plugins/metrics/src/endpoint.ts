import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Address, Monitor } from '@socketserver/core';
import { gaugesOf, ServerTotals } from './totals.js';
import { figuresRegistry, type ServerFigures } from './figures.js';
import { arbiterRegistry, perServer } from './process-registries.js';

/** Scrapers are few: more connections than this at once are refused (each costs memory). */
const MAX_CONNECTIONS = 32;
/** A client gets this long to send its request (headers and body), ms. */
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_HEADER_BYTES = 8192;

interface Served {
  monitor: Monitor;
  totals: ServerTotals;
  buckets: readonly number[];
}

/**
 * `GET /metrics` on one address, for every server of this process's config that asked for it
 * there: a scrape asks each server's workers for their info (over the arbiter's IPC: process
 * figures and gauges; each sends its counters first) and writes the totals kept in the arbiter
 * out with the arbiter's own process figures.
 */
export class Endpoint {
  private readonly served = new Map<string, Served>();
  private readonly own = arbiterRegistry();
  /** The scrape under way: scrapes that come meanwhile get its text (one round of IPC at a time). */
  private rendering: Promise<string> | undefined;
  readonly http: Server;

  constructor() {
    this.http = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES }, this.handle);
    this.http.maxConnections = MAX_CONNECTIONS;
    // Nothing of ours keeps the process alive: the arbiter exits when its servers have stopped.
    this.http.unref();
    this.http.on('connection', (socket) => socket.unref());
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
    if (had?.monitor !== monitor) monitor.onWorkerExit((gone) => totals.retire(gone.stats));
  }

  private readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'only GET\n', { allow: 'GET, HEAD' });
    if (path !== '/metrics') return plain(res, 404, 'not found: try /metrics\n');
    this.rendering ??= this.render().finally(() => { this.rendering = undefined; });
    this.rendering.then(
      (text) => {
        res.writeHead(200, { 'content-type': this.own.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: Error) => {
        for (const s of this.served.values()) s.monitor.app.log.error({ err }, `metrics: scrape failed: ${err.message}`);
        plain(res, 500, 'scrape failed\n');
      },
    );
  };

  private async render(): Promise<string> {
    const processes: object[] = perServer(await this.own.getMetricsAsJSON(), this.served.keys());
    const figures = await Promise.all([...this.served.values()].map(async ({ monitor, totals, buckets }): Promise<ServerFigures> => {
      // A worker that does not answer in time is listed as such: the rest are still written.
      // Each worker sends its counters before it answers: by now the monitor has them.
      const entries = await monitor.workers();
      for (const e of entries) if (Array.isArray(e.metrics)) processes.push(e.metrics as object);
      const gauges = gaugesOf(entries);
      return {
        server: monitor.name, totals: totals.sum(monitor.figures()), buckets, active: gauges.active, workers: gauges.workers,
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
