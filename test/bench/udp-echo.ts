// UDP echo load generator: a bounded window of datagrams in flight, every reply checked, run as
// its own process like loadgen.js so its CPU shows up apart from the server's.
//
//   node test/dist/bench/udp-echo.js --port N [--host 127.0.0.1] [--sockets 16] [--window 8]
//        [--size 64] [--warmup 1] [--duration 3] [--threads 2] [--timeout-ms 100]
//
// `sockets` UDP sockets (each bound to its own loopback port and connected to the server, so the
// kernel hands it only the server's datagrams) each keep `window` datagrams of `size` bytes in
// flight: a slot of the window is sent again as soon as its reply comes. A datagram names its
// socket, its slot and the slot's generation (which goes up at every send), then a fixed filler;
// a reply must be exactly what was sent for the slot's current generation. A reply that is not
// (altered, truncated, another socket's, a generation never sent) is a mismatch; one for an
// earlier generation of the slot (late after its timeout, or duplicated) is stale. UDP may drop
// under load: a slot unanswered after `timeout-ms` counts as lost and is sent again with the next
// generation, so a loss never stalls the window.
//
// Sockets live in `threads` worker threads (each owns a slice; the main thread only starts and
// collects them). Bounded: sockets × window datagrams in flight, the time given, a hard cap.
// Prints one JSON object on stdout. Exit 0 ok (losses included), 1 mismatches, send errors or
// nothing answered, 2 usage, 4 hard time cap.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Histogram, type HistogramSnapshot } from './histogram.js';

const SETUP_TIMEOUT_MS = 10_000;
const DRAIN_MS = 500; // after the window: how long outstanding replies may take before counting as lost
const HEADER = 8; // socket (u16), slot (u16), generation (u32), big-endian; the filler follows

interface Setup { host: string; port: number; sockets: number; first: number; window: number; size: number; timeoutMs: number; base: bigint }
type ToThread = { type: 'go'; tStart: number; tEnd: number };
interface Stats { ready: number; setup_errors: number; sent: number; replies: number; mismatches: number; stale: number; lost: number; send_errors: number }
type FromThread =
  | { type: 'ready'; stats: Stats; first: string | null }
  | { type: 'done'; stats: Stats; first: string | null; hist: HistogramSnapshot; cpuWindowMs: number };

/** Milliseconds since the main thread's `process.hrtime.bigint()` origin, from this thread's performance.now(). */
let offsetMs = 0;
function calibrate(base: bigint): void {
  offsetMs = Number(process.hrtime.bigint() - base) / 1e6 - performance.now();
}
const nowMs = () => performance.now() + offsetMs;

/** CPU time (ms) this thread has used, from /proc/thread-self/stat (10 ms ticks). */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;

if (isMainThread) void mainThread();
else socketThread(workerData as Setup);

// ---- worker threads: the sockets ----

function socketThread(setup: Setup): void {
  const port = parentPort!;
  const { host, window: W, size, timeoutMs } = setup;
  calibrate(setup.base);
  const filler = Buffer.alloc(size - HEADER);
  for (let j = 0; j < filler.length; j++) filler[j] = 0x61 + (j % 26);
  const hist = new Histogram();
  const stats: Stats = { ready: 0, setup_errors: 0, sent: 0, replies: 0, mismatches: 0, stale: 0, lost: 0, send_errors: 0 };
  let first: string | null = null;
  const fail = (kind: keyof Stats, detail: string) => {
    stats[kind]++;
    first ??= `${kind}: ${detail}`;
  };
  let tStart = Infinity;
  let tEnd = Infinity;
  let sending = false;
  let settled = 0;
  let onSettled = () => { /* set below */ };

  class Sender {
    readonly sock: Socket;
    /** Per slot: its datagram (rewritten in place at each send), generation, send time, whether a reply is awaited. */
    private readonly bufs: Buffer[] = [];
    private readonly gen = new Uint32Array(W);
    private readonly sentAt = new Float64Array(W);
    private readonly waiting = new Uint8Array(W);
    count = 0; // slots awaiting a reply
    private settled = false;
    private closed = false;
    /** Bound and connected. */
    ready = false;

    constructor(readonly id: number) {
      for (let s = 0; s < W; s++) this.bufs.push(this.datagram(s));
      this.sock = createSocket('udp4');
      this.sock.on('message', (m) => this.onReply(m));
      this.sock.on('error', (err) => {
        if (!this.settled) this.settle(err.message);
        else if (!this.closed) fail('send_errors', `socket ${id}: ${err.message}`); // an ICMP error for an earlier send, say
      });
      this.sock.bind(0, host, () => this.sock.connect(setup.port, host, () => this.settle(null)));
    }

    private settle(error: string | null): void {
      if (this.settled) return;
      this.settled = true;
      this.ready = error === null;
      if (error === null) stats.ready++;
      else fail('setup_errors', `socket ${this.id}: ${error}`);
      settled++;
      onSettled();
    }

    private datagram(slot: number): Buffer {
      const b = Buffer.allocUnsafe(size);
      b.writeUInt16BE(this.id, 0);
      b.writeUInt16BE(slot, 2);
      filler.copy(b, HEADER);
      return b;
    }

    /** Send slot `s` with its next generation. */
    send(s: number, now: number): void {
      const g = ++this.gen[s]!;
      this.bufs[s]!.writeUInt32BE(g, 4);
      this.sentAt[s] = now;
      if (this.waiting[s] === 0) { this.waiting[s] = 1; this.count++; }
      stats.sent++;
      this.sock.send(this.bufs[s]!);
    }

    start(now: number): void {
      for (let s = 0; s < W; s++) this.send(s, now);
    }

    private onReply(m: Buffer): void {
      const now = nowMs();
      const slot = m.length === size ? m.readUInt16BE(2) : -1;
      const ok = slot >= 0 && slot < W && m.readUInt16BE(0) === this.id && m.compare(filler, 0, filler.length, HEADER) === 0;
      const g = ok ? m.readUInt32BE(4) : 0;
      if (!ok || g === 0 || g > this.gen[slot]!) { // generations start at 1
        fail('mismatches', `socket ${this.id}: ${m.length} bytes ${JSON.stringify(m.toString('latin1', 0, 16))}…`);
        return;
      }
      if (g < this.gen[slot]! || this.waiting[slot] === 0) { stats.stale++; return; }
      const sent = this.sentAt[slot]!;
      if (sent >= tStart && now <= tEnd) hist.record(now - sent);
      stats.replies++;
      this.waiting[slot] = 0;
      this.count--;
      if (sending) this.send(slot, now);
    }

    /** Slots unanswered for `timeoutMs` are lost: sent again with the next generation (a fresh buffer: the old send may still be queued). */
    sweep(now: number, resend: boolean): void {
      for (let s = 0; s < W; s++) {
        if (this.waiting[s] === 0 || now - this.sentAt[s]! < timeoutMs) continue;
        stats.lost++;
        if (resend) {
          this.bufs[s] = this.datagram(s);
          this.send(s, now);
        } else {
          this.waiting[s] = 0;
          this.count--;
        }
      }
    }

    close(): void {
      this.closed = true;
      this.sock.close();
    }
  }

  const senders = Array.from({ length: setup.sockets }, (_, n) => new Sender(setup.first + n));
  const timer = setTimeout(() => report(), SETUP_TIMEOUT_MS);
  const report = () => {
    clearTimeout(timer);
    onSettled = () => { /* reported */ };
    port.postMessage({ type: 'ready', stats, first } satisfies FromThread);
  };
  onSettled = () => { if (settled === senders.length) report(); };

  port.once('message', (msg: ToThread) => {
    tStart = msg.tStart;
    tEnd = msg.tEnd;
    let cpuAtStart = NaN;
    setTimeout(() => { cpuAtStart = threadCpuMs(); }, Math.max(0, tStart - nowMs()));
    sending = true;
    const t0 = nowMs();
    const live = senders.filter((s) => s.ready);
    for (const s of live) s.start(t0);
    const sweeper = setInterval(() => { const now = nowMs(); for (const s of live) s.sweep(now, sending); }, Math.max(5, timeoutMs / 4));
    setTimeout(() => {
      const cpuWindowMs = threadCpuMs() - cpuAtStart;
      sending = false;
      // Outstanding replies may still arrive (and are checked); what does not is lost.
      const drainUntil = nowMs() + DRAIN_MS;
      const drain = () => {
        if (nowMs() < drainUntil && live.some((s) => s.count > 0)) return void setTimeout(drain, 10);
        clearInterval(sweeper);
        for (const s of live) s.sweep(Infinity, false);
        for (const s of senders) s.close();
        port.postMessage({ type: 'done', stats, first, hist: hist.snapshot(), cpuWindowMs } satisfies FromThread);
        port.close();
      };
      drain();
    }, Math.max(0, tEnd - nowMs()));
  });
}

// ---- main thread: options, threads, the result ----

async function mainThread(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      sockets: { type: 'string', default: '16' },
      window: { type: 'string', default: '8' },
      size: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '1' },
      duration: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      'timeout-ms': { type: 'string', default: '100' },
    },
  });
  const host = opt.host!;
  const port = Number(opt.port);
  const sockets = Number(opt.sockets);
  const W = Number(opt.window);
  const size = Number(opt.size);
  const warmupS = Number(opt.warmup);
  const durationS = Number(opt.duration);
  const timeoutMs = Number(opt['timeout-ms']);
  const int = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!int(port, 1, 65535) || !int(sockets, 1, 1024) || !int(W, 1, 1024) || !int(size, HEADER, 1472) ||
      !(warmupS >= 0 && warmupS <= 600) || !(durationS > 0 && durationS <= 600) || !int(Number(opt.threads), 1, 16) || !int(timeoutMs, 10, 10_000)) {
    console.error('udp-echo: bad arguments');
    process.exit(2);
  }
  if (host !== '127.0.0.1') { // never load anything but this machine
    console.error('udp-echo: --host must be 127.0.0.1');
    process.exit(2);
  }
  const T = Math.min(Number(opt.threads), sockets);
  setTimeout(() => {
    console.error('udp-echo: hard time cap hit');
    process.exit(4);
  }, SETUP_TIMEOUT_MS + (warmupS + durationS) * 1000 + DRAIN_MS + 10_000).unref();

  const base = process.hrtime.bigint();
  calibrate(base);
  const threads: Worker[] = [];
  const inbox: FromThread[][] = [];
  const waiters: (() => void)[] = [];
  let threadError: string | null = null;
  let first = 0;
  for (let t = 0; t < T; t++) {
    const share = Math.floor(sockets / T) + (t < sockets % T ? 1 : 0);
    const setup: Setup = { host, port, sockets: share, first, window: W, size, timeoutMs, base };
    first += share;
    const w = new Worker(new URL(import.meta.url), { workerData: setup });
    inbox.push([]);
    w.on('message', (m: FromThread) => { inbox[t]!.push(m); for (const f of waiters.splice(0)) f(); });
    w.on('error', (err) => { threadError ??= `thread ${t}: ${err.stack ?? err.message}`; for (const f of waiters.splice(0)) f(); });
    threads.push(w);
  }
  /** The message of `type` from every thread, or undefined for those silent after `ms`. */
  const fromAll = async <K extends FromThread['type']>(type: K, ms: number): Promise<(Extract<FromThread, { type: K }> | undefined)[]> => {
    const until = Date.now() + ms;
    const find = () => inbox.map((box) => box.find((m) => m.type === type) as Extract<FromThread, { type: K }> | undefined);
    while (find().some((m) => m === undefined) && threadError === null && Date.now() < until) {
      await new Promise<void>((r) => { const tm = setTimeout(r, until - Date.now()); waiters.push(() => { clearTimeout(tm); r(); }); });
    }
    return find();
  };

  const ready = await fromAll('ready', SETUP_TIMEOUT_MS + 2000);
  const readySockets = ready.reduce((s, r) => s + (r?.stats.ready ?? 0), 0);
  const t0 = nowMs();
  const tStart = t0 + warmupS * 1000;
  const tEnd = tStart + durationS * 1000;
  let cpuStart = process.cpuUsage();
  let cpuWindow = cpuStart;
  setTimeout(() => { cpuStart = process.cpuUsage(); }, warmupS * 1000);
  setTimeout(() => { cpuWindow = process.cpuUsage(cpuStart); }, warmupS * 1000 + durationS * 1000);
  for (const w of threads) w.postMessage({ type: 'go', tStart, tEnd } satisfies ToThread);
  await sleep(Math.max(0, tEnd - nowMs()));
  const done = await fromAll('done', DRAIN_MS + 5000);

  const hist = new Histogram();
  const stats: Stats = { ready: readySockets, setup_errors: 0, sent: 0, replies: 0, mismatches: 0, stale: 0, lost: 0, send_errors: 0 };
  let firstError: string | null = threadError;
  const perThread: number[] = [];
  for (const [t, d] of done.entries()) {
    const s = d?.stats ?? ready[t]?.stats;
    if (s) for (const k of Object.keys(stats) as (keyof Stats)[]) if (k !== 'ready') stats[k] += s[k];
    firstError ??= d?.first ?? ready[t]?.first ?? null;
    if (d === undefined) {
      stats.setup_errors++;
      firstError ??= `thread ${t} did not report`;
      continue;
    }
    hist.merge(d.hist);
    perThread.push(round2(d.cpuWindowMs / 1000 / durationS));
  }
  for (const w of threads) void w.terminate();
  const total = process.cpuUsage();
  const result = {
    host, port, sockets, window: W, size, threads: T, timeout_ms: timeoutMs, warmup_s: warmupS, duration_s: durationS,
    ready: readySockets, datagrams: hist.count, dps: Math.round(hist.count / durationS), latency_us: hist.summaryUs(),
    sent_total: stats.sent, replies_total: stats.replies, lost: stats.lost, loss: stats.sent ? stats.lost / stats.sent : 0,
    stale: stats.stale, mismatches: stats.mismatches, setup_errors: stats.setup_errors, send_errors: stats.send_errors, first_error: firstError,
    client_cpu: { cores: round2((cpuWindow.user + cpuWindow.system) / 1e6 / durationS), threads: perThread },
    cpu_ms: Math.round((total.user + total.system) / 1000), // lets the runner spot other load
  };
  const bad = stats.mismatches + stats.setup_errors + stats.send_errors;
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
  process.exit(hist.count > 0 && readySockets === sockets && bad === 0 ? 0 : 1);
}
