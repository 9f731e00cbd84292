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

/** The arbiter's own (with workers 0: the one serving process's). */
export function arbiterRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: 'arbiter' });
  collectDefaultMetrics({ register: registry });
  return registry;
}
