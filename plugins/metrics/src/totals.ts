import { CLOSE_REASONS, type Info, type StatsSnapshot } from '@socketserver/core';

/** The figures of StatsSnapshot that only grow, for one worker or summed over several. */
export interface Counters {
  accepted: number;
  closed: Record<string, number>;
  requests: number;
  received: number;
  sent: number;
  /** Handler-time histogram: cumulative counts per bucket of `buckets`. */
  timeCounts: number[];
  timeCount: number;
  timeSum: number;
}

export function zero(buckets: number): Counters {
  return {
    accepted: 0, closed: Object.fromEntries(CLOSE_REASONS.map((r) => [r, 0])), requests: 0, received: 0, sent: 0,
    timeCounts: new Array<number>(buckets).fill(0), timeCount: 0, timeSum: 0,
  };
}

function add(into: Counters, c: Counters): void {
  into.accepted += c.accepted;
  for (const r of CLOSE_REASONS) into.closed[r]! += c.closed[r] ?? 0;
  into.requests += c.requests;
  into.received += c.received;
  into.sent += c.sent;
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
}

/**
 * One server's totals over the life of the arbiter. Each worker's counters only grow, but a
 * worker that is replaced takes its own with it: the last ones seen of each worker (by pid)
 * are kept, and those of workers that are gone are folded into `retired`, so the totals never
 * go backwards. A worker that does not answer counts with its last figures. What a worker
 * served between the last scrape and its death is not seen.
 */
export class ServerTotals {
  private readonly last = new Map<number, Counters>();
  private readonly retired: Counters;

  constructor(private readonly buckets: readonly number[]) {
    this.retired = zero(buckets.length);
  }

  /** Take the workers' entries of one scrape: the totals, and the gauges of those that answered. */
  update(entries: readonly Info[]): { totals: Counters; active: number; workers: WorkerGauges[] } {
    const present = new Set<number>();
    const workers: WorkerGauges[] = [];
    let active = 0;
    for (const e of entries) {
      present.add(e.pid);
      const stats = e.stats as StatsSnapshot | undefined;
      if (stats === undefined) continue; // booting, or not answering: its last figures stand
      this.last.set(e.pid, countersOf(stats, this.buckets));
      active += stats.connections.active;
      workers.push({ id: e.id, pid: e.pid, active: stats.connections.active, memory: e.memory });
    }
    for (const [pid, c] of this.last) {
      if (present.has(pid)) continue;
      add(this.retired, c);
      this.last.delete(pid);
    }
    const totals = zero(this.buckets.length);
    add(totals, this.retired);
    for (const c of this.last.values()) add(totals, c);
    return { totals, active, workers };
  }
}
