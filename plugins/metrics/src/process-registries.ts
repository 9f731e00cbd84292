import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { droppedLogLines } from '@socketserver/core';

/**
 * A worker's own process and Node figures (prom-client's default metrics), labelled with its
 * server; the arbiter sums them over the server's workers (AggregatorRegistry.aggregate).
 */
export function workerRegistry(server: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ server, process: 'workers' });
  collectDefaultMetrics({ register: registry });
  countDroppedLogLines(registry);
  return registry;
}

/** The arbiter's own (with workers 0: the one serving process's); see `perServer`. */
export function arbiterRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: 'arbiter' });
  collectDefaultMetrics({ register: registry });
  countDroppedLogLines(registry);
  return registry;
}

/** The process's log lines dropped because their destination was not taking them, read at each scrape. */
function countDroppedLogLines(registry: Registry): void {
  new Counter({
    name: 'socketserver_log_lines_dropped_total', help: 'Log lines dropped because their destination (stderr) was not taking them',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });
}

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * The arbiter's figures once for each server it serves here, labelled `server` as the workers'
 * are: every series of a server is found by its name. They are one process's, so a sum over
 * several servers counts the arbiter once per server.
 */
export function perServer(own: MetricsJson, servers: Iterable<string>): MetricsJson[] {
  return [...servers].map((server) => own.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { server, ...v.labels } })) })));
}
