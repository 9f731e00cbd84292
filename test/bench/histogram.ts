// Latency histogram for the load generator: bounded memory whatever the request count.
// Log-linear buckets (64 per power of two, < 1.6% error) over 0.1 µs units, up to ~200 s.

const SUB = 64;
const BUCKETS = (31 - 6) * SUB + 2 * SUB;

function bucketOf(v: number): number {
  if (v < 2 * SUB) return v;
  const e = 31 - Math.clz32(v);
  return (e - 6) * SUB + (v >>> (e - 6));
}

/** Middle of bucket b, in 0.1 µs units. */
function valueOf(b: number): number {
  if (b < 2 * SUB) return b;
  const e = Math.floor(b / SUB) + 5;
  const shift = e - 6;
  return (b - shift * SUB) * 2 ** shift + 2 ** shift / 2;
}

export interface HistogramSnapshot { counts: Float64Array; count: number; sum: number; max: number }

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  private sum = 0;
  private max = 0;

  /** Record one latency in milliseconds. */
  record(ms: number): void {
    const v = Math.min(Math.max(Math.round(ms * 1e4), 0), 2 ** 31 - 1);
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Its counts, to send to another thread (`merge` there). */
  snapshot(): HistogramSnapshot {
    return { counts: this.counts.slice(), count: this.count, sum: this.sum, max: this.max };
  }

  /** Add the counts of another histogram (a `snapshot`, e.g. from a worker thread). */
  merge(s: HistogramSnapshot): void {
    for (let b = 0; b < BUCKETS; b++) this.counts[b]! += s.counts[b]!;
    this.count += s.count;
    this.sum += s.sum;
    if (s.max > this.max) this.max = s.max;
  }

  /** The q-quantile (0..1) in microseconds. */
  quantileUs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(valueOf(b), this.max) / 10;
    }
    return this.max / 10;
  }

  summaryUs(): { p50: number; p90: number; p99: number; p999: number; max: number; mean: number } {
    const r = (x: number) => Math.round(x * 10) / 10;
    return {
      p50: r(this.quantileUs(0.5)), p90: r(this.quantileUs(0.9)), p99: r(this.quantileUs(0.99)),
      p999: r(this.quantileUs(0.999)), max: r(this.max / 10), mean: r(this.count ? this.sum / this.count / 10 : 0),
    };
  }
}
