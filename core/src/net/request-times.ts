/** Prometheus's default histogram buckets (seconds): handler times from 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Handler time without a histogram: one request in SAMPLE_EVERY is timed. With one (a plugin
 * called `app.timeRequests`), every request is counted: those answered synchronously by the read
 * they came in (the read's time over its requests), an async one from that read to its reply.
 */
export const SAMPLE_EVERY = 64;

/** What `RequestTimes.snapshot` gives: cumulative bucket counts, as Prometheus histograms have them. */
export interface TimesSnapshot {
  readonly buckets: readonly number[];
  /** counts[i]: requests that took at most buckets[i] seconds; count: all of them. */
  readonly counts: readonly number[];
  readonly count: number;
  /** Seconds, summed. */
  readonly sum: number;
}

/**
 * A histogram of handler times kept in plain numbers, written per request and read when asked
 * (a scrape): no labels, no allocation, one bucket search per request.
 */
export class RequestTimes {
  readonly buckets: Float64Array;
  /** Per bucket (not cumulative), plus one past the last bound. */
  private readonly hits: Float64Array;
  count = 0;
  sum = 0;

  constructor(buckets: readonly number[] = DEFAULT_BUCKETS) {
    if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new TypeError('histogram buckets must be finite, positive and increasing');
    }
    this.buckets = Float64Array.from(buckets);
    this.hits = new Float64Array(buckets.length + 1);
  }

  /** `times` requests that took `seconds` each. */
  observe(seconds: number, times = 1): void {
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && seconds > buckets[i]!) i++;
    this.hits[i]! += times;
    this.count += times;
    this.sum += seconds * times;
  }

  snapshot(): TimesSnapshot {
    const counts: number[] = [];
    let running = 0;
    for (let i = 0; i < this.buckets.length; i++) counts.push(running += this.hits[i]!);
    return { buckets: [...this.buckets], counts, count: this.count, sum: this.sum };
  }
}
