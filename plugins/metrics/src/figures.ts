import { Counter, Gauge, Registry } from 'prom-client';
import { CLOSE_REASONS, DATAGRAM_DROPS, type Monitor } from '@socketserver/core';
import type { Counters, PubSubGauges, WorkerGauges } from './totals.js';
import { registerHistogram, type HistogramSeries } from './histogram.js';

/** What one server gives a scrape. */
export interface ServerFigures {
  server: string;
  totals: Counters;
  buckets: readonly number[];
  active: number;
  /** Channels, patterns and subscribers of the workers alive, summed. */
  pubsub: PubSubGauges;
  /** Worker processes alive (0 when the server serves in the arbiter, workers 0). */
  alive: number;
  restarts: Monitor['restarts'];
  workers: readonly WorkerGauges[];
}

/**
 * The socketserver_* metrics of one scrape, in a fresh registry: prom-client's classes set from
 * the figures gathered (a scrape is rare; nothing here runs per request).
 */
export function figuresRegistry(servers: readonly ServerFigures[]): Registry {
  const registry = new Registry();
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[] = ['server']) => new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string, labelNames: string[] = ['server']) => new Gauge({ name, help, labelNames, registers });

  const active = gauge('socketserver_connections_active', 'Connections open now');
  const accepted = counter('socketserver_connections_accepted_total', 'Connections accepted');
  const closed = counter('socketserver_connections_closed_total', 'Connections closed, by why', ['server', 'reason']);
  const requests = counter('socketserver_requests_total', 'Requests handed to the handler (answered or failed)');
  const received = counter('socketserver_bytes_received_total', 'Bytes read from clients');
  const sent = counter('socketserver_bytes_sent_total', 'Bytes written to clients');
  const pushes = counter('socketserver_pushes_total', 'Pushes sent to clients (connection.send and channel messages)');
  const published = counter('socketserver_pubsub_published_total', 'Messages published on channels');
  const delivered = counter('socketserver_pubsub_delivered_total', 'Channel messages pushed to subscribers (one per subscription reached)');
  const dropped = counter('socketserver_pubsub_dropped_total', 'Channel messages not pushed: the subscriber closing or closed as a slow consumer');
  // Each worker has channels of its own: a channel with subscribers in two workers counts in each.
  const channels = gauge('socketserver_pubsub_channels', 'Channels with subscribers now, summed over workers');
  const patterns = gauge('socketserver_pubsub_patterns', 'Patterns with subscribers now, summed over workers');
  const subscribers = gauge('socketserver_pubsub_subscribers', 'Connections holding a subscription now');
  const datagrams = counter('socketserver_datagrams_received_total', 'Datagrams read on udp:// binds');
  const datagramsSent = counter('socketserver_datagrams_sent_total', 'Datagrams sent on udp:// binds (replies and connection.send)');
  const datagramDrops = counter('socketserver_datagrams_dropped_total', 'Datagrams, or replies to them, dropped, by why', ['server', 'reason']);
  const workers = gauge('socketserver_workers', 'Worker processes alive');
  const restarts = counter('socketserver_worker_restarts_total', 'Workers replaced, by why', ['server', 'reason']);
  const memory = gauge('socketserver_worker_resident_memory_bytes', 'Resident memory of each worker', ['server', 'worker', 'pid']);
  const workerActive = gauge('socketserver_worker_connections_active', 'Connections open now in each worker', ['server', 'worker', 'pid']);
  const clientMemory = gauge('socketserver_worker_client_memory_bytes',
    'Bytes the connections of each worker hold (pending input, requests in handlers, unread replies)', ['server', 'worker', 'pid']);
  const times: HistogramSeries[] = [];

  for (const s of servers) {
    const server = s.server;
    const t = s.totals;
    active.set({ server }, s.active);
    accepted.inc({ server }, t.accepted);
    for (const reason of CLOSE_REASONS) closed.inc({ server, reason }, t.closed[reason] ?? 0);
    requests.inc({ server }, t.requests);
    received.inc({ server }, t.received);
    sent.inc({ server }, t.sent);
    pushes.inc({ server }, t.pushes);
    published.inc({ server }, t.published);
    delivered.inc({ server }, t.delivered);
    dropped.inc({ server }, t.dropped);
    datagrams.inc({ server }, t.datagrams);
    datagramsSent.inc({ server }, t.datagramsSent);
    for (const reason of DATAGRAM_DROPS) datagramDrops.inc({ server, reason }, t.datagramDrops[reason] ?? 0);
    channels.set({ server }, s.pubsub.channels);
    patterns.set({ server }, s.pubsub.patterns);
    subscribers.set({ server }, s.pubsub.subscribers);
    workers.set({ server }, s.alive);
    for (const [reason, n] of Object.entries(s.restarts)) restarts.inc({ server, reason }, n);
    for (const w of s.workers) {
      const labels = { server, worker: String(w.id), pid: String(w.pid) };
      memory.set(labels, w.memory);
      workerActive.set(labels, w.active);
      clientMemory.set(labels, w.clientMemory);
    }
    times.push({ labels: { server }, buckets: s.buckets, counts: t.timeCounts, count: t.timeCount, sum: t.timeSum });
  }
  registerHistogram(registry, 'socketserver_request_duration_seconds', 'Handler time of each request (answered or failed), seconds', times);
  return registry;
}
