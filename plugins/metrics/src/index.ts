import { DEFAULT_BUCKETS, definePlugin } from '@socketserver/core';
import type { Registry } from 'prom-client';
import { parseMetricsBind } from './metrics-bind.js';
import { openEndpoint } from './endpoints.js';
import { workerRegistry } from './process-registries.js';

export default definePlugin({
  name: 'metrics',
  settings: {
    metricsBind: {
      flags: ['--metrics-bind'], type: 'string', default: '127.0.0.1:9464', section: 'metrics', meta: 'HOST:PORT',
      desc: 'Where the arbiter serves GET /metrics (Prometheus text), as HOST:PORT; loopback unless told otherwise. Workers report their counters to the arbiter every second.',
      validate: parseMetricsBind,
    },
  },
  apply(app) {
    app.timeRequests(DEFAULT_BUCKETS);
    // Workers send their counters to the arbiter every second and when they stop: the totals
    // there outlive them (a worker killed loses at most its last second).
    app.reportStats();
    let registry: Registry | undefined;
    // In each worker: its process figures, read by the arbiter through info at scrape time.
    app.hooks.workerStart.tap('metrics', (worker) => {
      if (worker.id > 0) registry = workerRegistry(app.name);
    });
    app.hooks.info.tapPromise('metrics', async (info) => (registry ? { ...info, metrics: await registry.getMetricsAsJSON() } : info));
    // In the arbiter (or the one process, workers 0): the endpoint.
    app.hooks.monitorStart.tapPromise('metrics', async (monitor) => {
      const bind = app.cfg.metricsBind;
      const setting = app.discovery.registry.nameSource('metricsBind', app.settings.sources.metricsBind!);
      const url = await openEndpoint(bind, setting, monitor, DEFAULT_BUCKETS);
      app.log.info({ metrics: url }, `metrics on ${url}`);
    });
  },
});
