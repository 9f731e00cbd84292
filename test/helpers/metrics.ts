import { eventually, type SsProcess } from './ss.js';

// Reading the metrics plugin's endpoint: its URL from the log, scrapes, and their samples.

export interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus text format, line by line; throws on a line that is not a sample, a HELP or a TYPE. */
export function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][\w:]* /.test(line)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)",?/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** The one sample of `name` whose labels include `labels` (undefined if none; throws if several). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Names of the samples without a `server` label (every series should have one). */
export function unlabelled(samples: Sample[]): string[] {
  return [...new Set(samples.filter((s) => s.labels.server === undefined).map((s) => s.name))];
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return parse(await res.text());
}

/** Scrape until `ready` holds of the samples (figures reach the arbiter when the workers count them). */
export function scrapeUntil(url: string, ready: (s: Sample[]) => boolean, what: string, timeoutMs = 20_000): Promise<Sample[]> {
  return eventually(async () => {
    const got = await scrape(url);
    return ready(got) ? got : undefined;
  }, what, timeoutMs);
}

/** The endpoint's URL from its log line `metrics on http://127.0.0.1:PORT/metrics` (the real port). */
export async function metricsUrl(ss: SsProcess, server?: string): Promise<string> {
  const line = await ss.waitForLog((l) => typeof l.metrics === 'string' && (server === undefined || l.name === server), 20_000);
  const url = line.metrics as string;
  if (line.msg !== `metrics on ${url}` || !/^http:\/\/127\.0\.0\.1:[1-9]\d*\/metrics$/.test(url)) throw new Error(`unexpected log line: ${line.msg}`);
  return url;
}
