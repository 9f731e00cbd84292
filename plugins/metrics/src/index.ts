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
    metricsMaxConnections: {
      flags: ['--metrics-max-connections'], type: 'int', min: 1, max: 4096, default: 16, section: 'metrics',
      desc: 'Connections the /metrics endpoint keeps open at once. A newcomer over that closes the oldest one that has no scrape under way (a slow or idle client), so such clients cannot keep a scraper out; when every one is mid-scrape the newcomer is closed.',
    },
    metricsHeaderTimeout: {
      flags: ['--metrics-header-timeout'], type: 'seconds', min: 0.1, max: 300, default: 5, section: 'metrics',
      desc: 'Seconds a client of /metrics gets to send a whole request, from when it connects (or, on a kept-alive connection, from the request\'s first byte); a slower one gets 408 and is closed.',
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
      const limits = { maxConnections: app.cfg.metricsMaxConnections, headerTimeout: app.cfg.metricsHeaderTimeout };
      const url = await openEndpoint(bind, setting, monitor, DEFAULT_BUCKETS, limits);
      app.log.info({ metrics: url }, `metrics on ${url}`);
    });
  },
});
