import { CLOSE_REASONS, DATAGRAM_DROPS, type StatsSnapshot, type WorkerFigures, type WorkerInfo } from '@socketserver/core';

/** The figures of StatsSnapshot that only grow, for one worker or summed over several. */
export interface Counters {
  accepted: number;
  closed: Record<string, number>;
  requests: number;
  received: number;
  sent: number;
  /** Pushes sent (connection.send and channels), and the channels' messages: published, pushed to subscribers, refused. */
  pushes: number;
  published: number;
  delivered: number;
  dropped: number;
  /** Datagrams of udp:// binds: read, sent (replies and pushes), and dropped by reason. */
  datagrams: number;
  datagramsSent: number;
  datagramDrops: Record<string, number>;
  /** Handler-time histogram: cumulative counts per bucket of `buckets`. */
  timeCounts: number[];
  timeCount: number;
  timeSum: number;
}

export function zero(buckets: number): Counters {
  return {
    accepted: 0, closed: Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])), requests: 0, received: 0, sent: 0,
    pushes: 0, published: 0, delivered: 0, dropped: 0,
    datagrams: 0, datagramsSent: 0, datagramDrops: Object.fromEntries(DATAGRAM_DROPS.map((r) => [r, 0])),
    timeCounts: new Array<number>(buckets).fill(0), timeCount: 0, timeSum: 0,
  };
}

function add(into: Counters, c: Counters): void {
  into.accepted += c.accepted;
  for (const r of CLOSE_REASONS) into.closed[r]! += c.closed[r] ?? 0;
  into.requests += c.requests;
  into.received += c.received;
  into.sent += c.sent;
  into.pushes += c.pushes;
  into.published += c.published;
  into.delivered += c.delivered;
  into.dropped += c.dropped;
  into.datagrams += c.datagrams;
  into.datagramsSent += c.datagramsSent;
  for (const r of DATAGRAM_DROPS) into.datagramDrops[r]! += c.datagramDrops[r] ?? 0;
  c.timeCounts.forEach((n, i) => { into.timeCounts[i]! += n; });
  into.timeCount += c.timeCount;
  into.timeSum += c.timeSum;
}

/** A worker's counters from its stats; its histogram only when it has our buckets (else left out). */
function countersOf(s: StatsSnapshot, buckets: readonly number[]): Counters {
  const c = zero(buckets.length);
  c.accepted = s.connections.accepted;
  for (const r of CLOSE_REASONS) c.closed[r] = s.connections.closed[r] ?? 0;
  c.requests = s.requests;
  c.received = s.bytes.received;
  c.sent = s.bytes.sent;
  c.pushes = s.pushes;
  // pubsub is optional in StatsSnapshot (a process serving without channels has none).
  c.published = s.pubsub?.published ?? 0;
  c.delivered = s.pubsub?.delivered ?? 0;
  c.dropped = s.pubsub?.dropped ?? 0;
  const d = s.datagrams;
  if (d !== undefined) {
    c.datagrams = d.received;
    c.datagramsSent = d.replied;
    for (const r of DATAGRAM_DROPS) c.datagramDrops[r] = d.dropped[r] ?? 0;
  }
  const t = s.times;
  if (t && t.buckets.length === buckets.length && t.buckets.every((b, i) => b === buckets[i])) {
    c.timeCounts = [...t.counts];
    c.timeCount = t.count;
    c.timeSum = t.sum;
  }
  return c;
}

/** A live worker's figures that are not totals. */
export interface WorkerGauges {
  id: number;
  pid: number;
  active: number;
  memory: number;
  /** Bytes its connections hold, as max_client_memory counts them. */
  clientMemory: number;
}

/** Channels, patterns and subscribers now, summed over workers (each worker has channels of its own). */
export interface PubSubGauges {
  channels: number;
  patterns: number;
  subscribers: number;
}

/** The gauges of the workers that answered info (one that did not is left out). */
export function gaugesOf(entries: readonly WorkerInfo[]): { active: number; pubsub: PubSubGauges; workers: WorkerGauges[] } {
  const workers: WorkerGauges[] = [];
  let active = 0;
  const pubsub: PubSubGauges = { channels: 0, patterns: 0, subscribers: 0 };
  for (const { id, pid, stats, memory } of entries) {
    if (stats === undefined || memory === undefined) continue; // booting, or not answering
    active += stats.connections.active;
    pubsub.channels += stats.pubsub?.channels ?? 0;
    pubsub.patterns += stats.pubsub?.patterns ?? 0;
    pubsub.subscribers += stats.pubsub?.subscribers ?? 0;
    workers.push({ id, pid, active: stats.connections.active, memory, clientMemory: stats.connections.memory });
  }
  return { active, pubsub, workers };
}

/**
 * One server's totals over the life of the arbiter. Each worker's counters only grow, but a
 * worker that exits takes its own with it: the monitor hands over its last ones (its final
 * ones after a graceful stop, else those of its last report, at most a second old), which are
 * kept in `retired`, so the totals never go backwards.
 */
export class ServerTotals {
  private readonly retired: Counters;

  constructor(private readonly buckets: readonly number[]) {
    this.retired = zero(buckets.length);
  }

  /** A worker exited: its last counters stay in the totals. */
  retire(stats: StatsSnapshot): void {
    add(this.retired, countersOf(stats, this.buckets));
  }

  /** The totals now: the workers gone, and the last counters of the others. */
  sum(live: readonly WorkerFigures[]): Counters {
    const totals = zero(this.buckets.length);
    add(totals, this.retired);
    for (const w of live) add(totals, countersOf(w.stats, this.buckets));
    return totals;
  }
}
