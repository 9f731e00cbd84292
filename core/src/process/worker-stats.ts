import type { StatsSnapshot } from '../net/connection-set.js';

/**
 * How often a worker of an app that asked (App.reportStats) sends its counters to the arbiter.
 * What a worker counted since its last report is lost if it dies without a word (SIGKILL, a
 * crash, killed after --timeout); a graceful exit reports last, after its drain. A report is a
 * few hundred bytes of plain numbers, so once a second costs nothing measurable, and it is far
 * more often than Prometheus scrapes (15 s and up). Not the heartbeat's message: that one
 * follows --timeout (none with 0, several a second with a short one).
 */
export const STATS_EVERY_MS = 1000;

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isAmount = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Handler-time histogram, if there: bounds, cumulative counts (one per bound), count and sum. */
function isTimes(v: unknown): boolean {
  if (v === undefined) return true;
  if (!isRecord(v) || !Array.isArray(v.buckets) || !Array.isArray(v.counts) || v.buckets.length !== v.counts.length) return false;
  return v.buckets.every(isAmount) && v.counts.every(isCount) && isCount(v.count) && isAmount(v.sum);
}

/**
 * A worker's counters as the arbiter believes them (a plugin in a worker can send anything):
 * every figure a count or an amount, so that summing them cannot throw or go NaN.
 */
export function isStatsSnapshot(v: unknown): v is StatsSnapshot {
  if (!isRecord(v) || !isRecord(v.connections) || !isRecord(v.bytes) || !isRecord(v.handler)) return false;
  const { connections, bytes, handler } = v;
  return isCount(connections.active) && isCount(connections.accepted) && isRecord(connections.closed) &&
    Object.values(connections.closed).every(isCount) && isCount(v.requests) && isCount(bytes.received) &&
    isCount(bytes.sent) && isCount(handler.sampled) && isAmount(handler.seconds) && isTimes(v.times);
}
