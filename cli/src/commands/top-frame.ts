import { clean, list, mb, obj, restarts, type Fields } from './info.js';

/** Two info documents and the seconds between them; `prev` is absent on the first frame (no rates yet). */
export interface Sample {
  cur: Fields;
  prev?: Fields | undefined;
  seconds: number;
}

export interface FrameOptions {
  /** Columns: every line is cut to this, never wrapped. */
  width: number;
  /** Rows, when the frame must fit a screen: the lines beyond are left out. */
  height?: number | undefined;
  /** Refresh period shown in the header. */
  interval: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** `3d04h`, `2h05m`, `4m07s`, `12s`: an uptime in the width of a column. */
export function duration(v: unknown): string {
  const s = num(v);
  if (s === undefined) return '-';
  const t = Math.floor(s);
  const [d, h, m] = [Math.floor(t / 86400), Math.floor(t / 3600) % 24, Math.floor(t / 60) % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  if (m > 0) return `${m}m${two(t % 60)}s`;
  return `${t}s`;
}

const rate = (r: number | undefined) => (r === undefined ? '-' : r.toFixed(1));
const micros = (us: number | undefined) => (us === undefined ? '-' : us.toFixed(1));

/** Per second: the growth of a counter between two documents (a counter that went back, a restarted worker, counts from 0). */
function perSecond(now: unknown, before: unknown, seconds: number): number | undefined {
  const [n, b] = [num(now), num(before)];
  if (n === undefined || b === undefined || !(seconds > 0)) return undefined;
  return Math.max(0, n - b) / seconds;
}

const sum = (xs: (number | undefined)[]) => (xs.some((x) => x !== undefined) ? xs.reduce<number>((a, x) => a + (x ?? 0), 0) : undefined);

/** Workers by pid: a rate compares a worker with itself only. */
function byPid(doc: Fields | undefined): Map<unknown, Fields> {
  return new Map(list(doc?.workers).map((w) => [w.pid, w]));
}

interface Row { id: string; pid: string; state: string; up: string; rps: number | undefined; active: number | undefined; memory: number | undefined }

const WORKER_HEAD = `  ${'WORKER'.padEnd(6)}${'PID'.padStart(8)}  ${'STATE'.padEnd(13)}${'UP'.padStart(7)}${'REQ/S'.padStart(10)}${'ACTIVE'.padStart(8)}${'MEMORY'.padStart(12)}`;
function workerLine(r: Row): string {
  return `  ${r.id.padEnd(6)}${r.pid.padStart(8)}  ${r.state.padEnd(13)}${r.up.padStart(7)}${rate(r.rps).padStart(10)}` +
    `${String(r.active ?? '-').padStart(8)}${mb(r.memory).padStart(12)}`;
}

function workerRows(cur: Fields[], before: Map<unknown, Fields>, seconds: number): Row[] {
  return cur.map((w) => {
    const prev = before.get(w.pid);
    return {
      id: String(w.id ?? '-'), pid: String(w.pid ?? '-'), state: String(w.state ?? '-'), up: duration(w.uptime),
      rps: prev ? perSecond(w.requests, prev.requests, seconds) : undefined,
      active: num(obj(w.connections).active), memory: num(w.memory),
    };
  });
}

function total(label: string, rows: Row[]): string {
  return workerLine({ id: label, pid: '', state: '', up: '', rps: sum(rows.map((r) => r.rps)), active: sum(rows.map((r) => r.active)), memory: sum(rows.map((r) => r.memory)) });
}

/** A server's pushes and channels: gauges and drops summed over its workers now, rates by pid as REQ/S. */
interface PubSubRow {
  channels: number; patterns: number; subscribers: number;
  published: number | undefined; delivered: number | undefined; pushes: number | undefined;
  dropped: number; slow: number;
}

const PUBSUB_HEAD = `  ${'CHANNELS'.padStart(8)}${'PATTERNS'.padStart(10)}${'SUBSCRIBERS'.padStart(13)}${'PUB/S'.padStart(10)}` +
  `${'DELIV/S'.padStart(10)}${'PUSH/S'.padStart(10)}${'DROPPED'.padStart(9)}${'SLOW'.padStart(6)}`;
function pubsubLine(r: PubSubRow): string {
  return `  ${String(r.channels).padStart(8)}${String(r.patterns).padStart(10)}${String(r.subscribers).padStart(13)}` +
    `${rate(r.published).padStart(10)}${rate(r.delivered).padStart(10)}${rate(r.pushes).padStart(10)}${String(r.dropped).padStart(9)}${String(r.slow).padStart(6)}`;
}

/**
 * The pub/sub row of a server's workers, or none while they have neither pushed nor held a
 * channel (most servers never do). Each worker has channels of its own: a channel with
 * subscribers in two workers counts in each.
 */
function pubsubRow(workers: Fields[], before: Map<unknown, Fields>, seconds: number): PubSubRow | undefined {
  const r: PubSubRow = { channels: 0, patterns: 0, subscribers: 0, published: undefined, delivered: undefined, pushes: undefined, dropped: 0, slow: 0 };
  const [published, delivered, pushes]: (number | undefined)[][] = [[], [], []];
  let used = false;
  for (const w of workers) {
    const stats = obj(w.stats);
    const ps = obj(stats.pubsub);
    const slow = num(obj(obj(stats.connections).closed).slow_consumer) ?? 0;
    const [channels, patterns, subscribers, dropped] = [num(ps.channels) ?? 0, num(ps.patterns) ?? 0, num(ps.subscribers) ?? 0, num(ps.dropped) ?? 0];
    r.channels += channels;
    r.patterns += patterns;
    r.subscribers += subscribers;
    r.dropped += dropped;
    r.slow += slow;
    if ((num(stats.pushes) ?? 0) + (num(ps.published) ?? 0) + channels + patterns + subscribers > 0) used = true;
    const prev = before.get(w.pid);
    const was = obj(prev?.stats);
    published.push(prev ? perSecond(ps.published, obj(was.pubsub).published, seconds) : undefined);
    delivered.push(prev ? perSecond(ps.delivered, obj(was.pubsub).delivered, seconds) : undefined);
    pushes.push(prev ? perSecond(stats.pushes, was.pushes, seconds) : undefined);
  }
  if (!used) return undefined;
  return { ...r, published: sum(published), delivered: sum(delivered), pushes: sum(pushes) };
}

/** A server's datagrams (udp:// binds): rates by pid as REQ/S, drops summed over its workers. */
interface DatagramRow { received: number | undefined; replied: number | undefined; dropped: number }

const DATAGRAM_HEAD = `  ${'DGRAM IN/S'.padStart(10)}${'OUT/S'.padStart(10)}${'DROPPED'.padStart(9)}`;
function datagramLine(r: DatagramRow): string {
  return `  ${rate(r.received).padStart(10)}${rate(r.replied).padStart(10)}${String(r.dropped).padStart(9)}`;
}

/** The datagram row of a server's workers, or none when none of them reads a udp:// bind. */
function datagramRow(workers: Fields[], before: Map<unknown, Fields>, seconds: number): DatagramRow | undefined {
  const [received, replied]: (number | undefined)[][] = [[], []];
  let dropped = 0;
  let used = false;
  for (const w of workers) {
    const stats = obj(w.stats);
    if (stats.datagrams === undefined) continue;
    used = true;
    const d = obj(stats.datagrams);
    for (const n of Object.values(obj(d.dropped))) dropped += num(n) ?? 0;
    const prev = before.get(w.pid);
    const was = obj(obj(prev?.stats).datagrams);
    received.push(prev ? perSecond(d.received, was.received, seconds) : undefined);
    replied.push(prev ? perSecond(d.replied, was.replied, seconds) : undefined);
  }
  if (!used) return undefined;
  return { received: sum(received), replied: sum(replied), dropped };
}

interface HookRow { plugin: string; hook: string; rps: number | undefined; meanUs: number | undefined }

/** Timed calls and their seconds: `{ sampled, seconds }` in a document. */
interface Timed { sampled: number; seconds: number }

/**
 * What was timed since the previous reading of the same worker: the growth of its counters, all
 * of them when that reading had none (the worker, or its hook, is newer); undefined when the
 * document has no such counters.
 */
function timedSince(now: unknown, before: unknown): Timed | undefined {
  const [n, b] = [obj(now), obj(before)];
  const [sampled, seconds] = [num(n.sampled), num(n.seconds)];
  if (sampled === undefined || seconds === undefined) return undefined;
  const [bs, bt] = [num(b.sampled) ?? 0, num(b.seconds) ?? 0];
  return sampled >= bs ? { sampled: sampled - bs, seconds: Math.max(0, seconds - bt) } : { sampled, seconds };
}

/** Count a worker's timed calls in a total. */
function add(into: Timed, t: Timed | undefined): void {
  if (t === undefined) return;
  into.sampled += t.sampled;
  into.seconds += t.seconds;
}

/** The mean of a timed call in µs; none when nothing was timed. */
const meanUs = (t: Timed) => (t.sampled > 0 ? (t.seconds / t.sampled) * 1e6 : undefined);

/**
 * Tap times across workers: calls summed (and their growth per second) and the mean time of the
 * calls timed since the previous document, so a plugin that turns slow shows at the next refresh;
 * then the handler's mean the same way, at the rate of requests. With no previous document, no means.
 */
function hookRows(workers: Fields[], prevDoc: Fields | undefined, seconds: number, requestRate: number | undefined): HookRow[] {
  const before = byPid(prevDoc);
  const acc = new Map<string, { plugin: string; hook: string; rps: (number | undefined)[]; timed: Timed }>();
  const handler: Timed = { sampled: 0, seconds: 0 };
  for (const w of workers) {
    const prev = before.get(w.pid);
    for (const [plugin, hooks] of Object.entries(obj(w.hooks))) {
      for (const [hook, t] of Object.entries(obj(hooks))) {
        const key = JSON.stringify([plugin, hook]);
        const a = acc.get(key) ?? { plugin, hook, rps: [], timed: { sampled: 0, seconds: 0 } };
        acc.set(key, a);
        const was = prev && obj(obj(prev.hooks)[plugin])[hook];
        a.rps.push(prev ? perSecond(num(obj(t).calls) ?? 0, num(obj(was).calls) ?? 0, seconds) : undefined);
        if (prevDoc) add(a.timed, timedSince(t, was));
      }
    }
    if (prevDoc) add(handler, timedSince(obj(w.stats).handler, prev && obj(prev.stats).handler));
  }
  const rows: HookRow[] = [...acc.values()].map((a) => ({ plugin: a.plugin, hook: a.hook, rps: sum(a.rps), meanUs: meanUs(a.timed) }));
  // The slowest first: the time spent per second, else per call.
  rows.sort((x, y) => ((y.rps ?? 1) * (y.meanUs ?? 0)) - ((x.rps ?? 1) * (x.meanUs ?? 0)) || x.plugin.localeCompare(y.plugin) || x.hook.localeCompare(y.hook));
  rows.push({ plugin: '(handler)', hook: 'request', rps: requestRate, meanUs: meanUs(handler) });
  return rows;
}

/** A name cut to its column, the cut shown. */
const fit = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const hookLine = (plugin: string, hook: string, rps: string, mean: string) =>
  `  ${fit(clean(plugin), 24)} ${fit(clean(hook), 18)}${rps.padStart(11)}${mean.padStart(11)}`;

/** The lines of one `ss top` screen, each cleaned of controls and cut to the width. */
export function frame({ cur, prev, seconds }: Sample, { width, height, interval }: FrameOptions): string[] {
  const a = obj(cur.arbiter);
  const lines = [`ss top  pid ${a.pid ?? '-'}  ${a.name ?? ''}  ${a.state ?? '-'}  up ${duration(a.uptime)}  version ${a.version ?? '-'}  every ${interval}s`];
  const before = byPid(prev);
  const workers = list(cur.workers);
  const all: Row[] = [];
  for (const m of list(cur.monitors)) {
    const w = obj(m.workers);
    lines.push('', `server ${m.name ?? '-'}  ${list(m.addresses).length ? (m.addresses as unknown[]).join(' ') : '-'}  workers ${w.alive ?? '-'}/${w.wanted ?? '-'}  restarts ${restarts(m.restarts)}`);
    const mine = workers.filter((x) => x.server === m.name);
    const rows = workerRows(mine, before, seconds);
    all.push(...rows);
    lines.push(WORKER_HEAD, ...rows.map(workerLine), total('total', rows));
    const pubsub = pubsubRow(mine, before, seconds);
    if (pubsub) lines.push('', PUBSUB_HEAD, pubsubLine(pubsub));
    const dgram = datagramRow(mine, before, seconds);
    if (dgram) lines.push('', DATAGRAM_HEAD, datagramLine(dgram));
  }
  if (list(cur.monitors).length > 1) lines.push('', total('all', all));
  lines.push('', hookLine('PLUGIN', 'HOOK', 'CALLS/S', 'MEAN µs'));
  for (const r of hookRows(workers, prev, seconds, sum(all.map((x) => x.rps)))) lines.push(hookLine(r.plugin, r.hook, rate(r.rps), micros(r.meanUs)));
  if (!prev) lines.push('', `(rates and means after ${interval}s)`);
  const fitted = lines.map((l) => clean(l).slice(0, width));
  return height === undefined ? fitted : fitted.slice(0, height);
}
