import type { Registry } from 'prom-client';

/** One labelled histogram, as counts already summed elsewhere (the workers' handler times). */
export interface HistogramSeries {
  labels: Record<string, string>;
  buckets: readonly number[];
  /** Cumulative, one per bucket. */
  counts: readonly number[];
  count: number;
  sum: number;
}

/**
 * A histogram whose counts come whole from the workers: prom-client's Histogram only observes
 * values one by one, so this registers an object of the shape its registry reads (`get()`),
 * written out as `_bucket{le}` (with `+Inf`), `_sum` and `_count`.
 */
export function registerHistogram(registry: Registry, name: string, help: string, series: readonly HistogramSeries[]): void {
  const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
  for (const s of series) {
    s.buckets.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: s.counts[i] ?? 0 }));
    values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
    values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
    values.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
  }
  const metric = { name, help, type: 'histogram', aggregator: 'sum', values };
  // The shape prom-client's typings give only to its own classes: registerMetric reads `name` and `get()`.
  registry.registerMetric({ name, help, type: 'histogram', aggregator: 'sum', get: () => metric } as never);
}
