import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A worker's own process and Node figures (prom-client's default metrics), labelled with its
 * server; the arbiter sums them over the server's workers (AggregatorRegistry.aggregate).
 */
export function workerRegistry(server: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ server, process: 'workers' });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The arbiter's own (with workers 0: the one serving process's); see `perServer`. */
export function arbiterRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: 'arbiter' });
  collectDefaultMetrics({ register: registry });
  return registry;
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
