// WebSocket echo load generator: closed loop, every reply checked, run as its own process like
// loadgen.js so its CPU shows up apart from the server's.
//
//   node test/dist/bench/ws-echo.js --port N [--host 127.0.0.1] [--conns 50] [--pipeline 16]
//        [--size 64] [--warmup 1] [--duration 3] [--threads 2]
//
// `conns` connections do the opening handshake (ws-wire.ts), then each keeps `pipeline` text
// messages of `size` bytes in flight: whenever replies complete it sends as many new ones in one
// write. The messages come from a pool of distinct ones (8 hex digits of their number, then a
// fixed filler), masked once when the pool is built (each with its own random mask: the server
// cannot tell), and each connection walks the pool in order from a random start, so every reply
// must be the server's frame of exactly the next message: a lost, duplicated, reordered or
// altered one is a mismatch. Replies of a read are compared in runs (one Buffer.compare for
// many), a frame at a time only where a run differs.
//
// Connections live in `threads` worker threads (each owns a slice; the main thread only starts
// and collects them). Prints one JSON object on stdout. Exit 0 ok, 1 validation errors or nothing
// completed, 2 usage, 4 hard time cap.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import { clientText, Handshake, serverText } from './ws-wire.js';

const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_MS = 1000; // after the window: how long outstanding replies may take before counting as stalled

interface Setup { host: string; port: number; conns: number; pipeline: number; size: number; base: bigint }
type ToThread = { type: 'go'; tStart: number; tEnd: number };
interface Stats { established: number; handshake_errors: number; mismatches: number; proto_errors: number; conn_errors: number; closes: number; replies: number; stalled: number }
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
else connectionThread(workerData as Setup);

// ---- worker threads: the connections ----

function connectionThread(setup: Setup): void {
  const port = parentPort!;
  const { host, pipeline: P, size } = setup;
  calibrate(setup.base);
  // The pool: COUNT messages (a multiple of P, so a message's send time has slot `index % P`),
  // and its first P again at the end, so any P in a row from an index under COUNT are contiguous.
  const COUNT = P * Math.ceil(4096 / P);
  const requests: Buffer[] = [];
  const replies: Buffer[] = [];
  for (let i = 0; i < COUNT; i++) {
    const payload = Buffer.alloc(size);
    for (let j = 0; j < size; j++) payload[j] = 0x61 + (j % 26);
    payload.write(i.toString(16).padStart(8, '0').slice(-Math.min(8, size)), 'latin1');
    requests.push(clientText(payload));
    replies.push(serverText(payload));
  }
  for (let i = 0; i < P; i++) {
    requests.push(requests[i]!);
    replies.push(replies[i]!);
  }
  const RQ = requests[0]!.length;
  const RF = replies[0]!.length;
  const reqPool = Buffer.concat(requests);
  const repPool = Buffer.concat(replies);
  const readBuffer = Buffer.allocUnsafe(256 * 1024); // shared: each read is consumed before the next
  const hist = new Histogram();
  const stats: Stats = { established: 0, handshake_errors: 0, mismatches: 0, proto_errors: 0, conn_errors: 0, closes: 0, replies: 0, stalled: 0 };
  let first: string | null = null;
  const fail = (kind: keyof Stats, detail: string) => {
    stats[kind]++;
    first ??= `${kind}: ${detail}`;
  };
  let tStart = Infinity;
  let tEnd = Infinity;
  let sending = false;
  let finishing = false;
  let settled = 0;
  let onSettled = () => { /* set below */ };

  class Conn {
    readonly sock: Socket;
    private hs: Handshake | null;
    private next = Math.floor(Math.random() * COUNT); // the message sent next
    count = 0; // in flight: the `count` messages before `next`
    private readonly sentAt = new Float64Array(P);
    private leftover: Buffer | null = null;
    open = false;

    constructor(readonly n: number) {
      this.hs = new Handshake(host, setup.port);
      this.sock = connect({
        host, port: setup.port, noDelay: true,
        onread: { buffer: readBuffer, callback: (len: number, buf: Uint8Array) => { this.onRead(len, buf as Buffer); return true; } },
      });
      this.sock.once('connect', () => this.sock.write(this.hs!.request));
      this.sock.on('error', (err) => {
        if (finishing) return;
        if (this.hs !== null) this.settle('conn_errors', err.message);
        else fail('conn_errors', `connection ${n}: ${err.message}`);
      });
      this.sock.on('close', () => {
        if (this.open && !finishing) fail('closes', `connection ${n} closed by the server`);
        this.open = false;
        if (this.hs !== null) this.settle('conn_errors', 'closed during the handshake');
      });
    }

    /** The handshake is over: `kind` says how it failed, none if it did not. */
    private settle(kind: keyof Stats | null, detail = ''): void {
      if (this.hs === null) return;
      this.hs = null;
      if (kind === null) {
        this.open = true;
        stats.established++;
      } else {
        fail(kind, `connection ${this.n}: ${detail}`);
        this.sock.destroy();
      }
      settled++;
      onSettled();
    }

    /** Send the next `k` messages of the pool in one write. */
    send(k: number, now: number): void {
      this.sock.write(reqPool.subarray(this.next * RQ, (this.next + k) * RQ));
      for (let j = 0; j < k; j++) this.sentAt[(this.next + j) % P] = now;
      this.next = (this.next + k) % COUNT;
      this.count += k;
    }

    private complete(index: number, now: number): void {
      const sent = this.sentAt[index % P]!;
      if (sent >= tStart && now <= tEnd) hist.record(now - sent);
      stats.replies++;
      this.count--;
    }

    private protocolError(data: Buffer, at: number): void {
      fail('proto_errors', `connection ${this.n}: ${JSON.stringify(data.toString('latin1', at, Math.min(data.length, at + 32)))}`);
      this.open = false;
      this.sock.destroy();
    }

    private onRead(len: number, buf: Buffer): void {
      let from = 0;
      if (this.hs !== null) {
        try {
          from = this.hs.feed(buf, len);
        } catch (err) {
          return this.settle('handshake_errors', (err as Error).message);
        }
        if (from === -1) return;
        this.settle(null);
        if (from === len) return;
      }
      if (!this.open) return;
      const now = nowMs();
      const before = this.count;
      this.readFrames(buf.subarray(from, len), now);
      const done = before - this.count;
      if (done > 0 && sending && this.open) this.send(done, now);
    }

    /** Each reply must be the server's frame of the oldest message in flight. */
    private readFrames(chunk: Buffer, now: number): void {
      let data = chunk;
      if (this.leftover !== null) {
        data = Buffer.concat([this.leftover, chunk]);
        this.leftover = null;
      }
      let pos = 0;
      while (pos < data.length) {
        if (this.count === 0) return this.protocolError(data, pos); // a frame nobody asked for
        const oldest = (this.next - this.count + COUNT) % COUNT;
        const run = Math.min(this.count, Math.floor((data.length - pos) / RF));
        if (run > 0 && data.compare(repPool, oldest * RF, (oldest + run) * RF, pos, pos + run * RF) === 0) {
          for (let j = 0; j < run; j++) this.complete(oldest + j, now);
          pos += run * RF;
          continue;
        }
        // One frame as its header says, so a wrong one counts once and the stream goes on.
        const end = frameEnd(data, pos);
        if (end === INCOMPLETE) break;
        if (end === MALFORMED) return this.protocolError(data, pos);
        if (data.compare(repPool, oldest * RF, (oldest + 1) * RF, pos, end) !== 0) {
          fail('mismatches', `connection ${this.n}: ${JSON.stringify(data.toString('latin1', pos, Math.min(end, pos + 80)))}, ` +
            `expected ${JSON.stringify(repPool.toString('latin1', oldest * RF, (oldest + 1) * RF))}`);
        }
        this.complete(oldest, now);
        pos = end;
      }
      if (pos < data.length) {
        if (data.length - pos > RF + 16) return this.protocolError(data, pos); // no frame end where one must be
        this.leftover = Buffer.from(data.subarray(pos)); // a copy: the read buffer is reused
      }
    }

    close(): void {
      this.sock.destroy();
    }
  }

  const conns = Array.from({ length: setup.conns }, (_, n) => new Conn(n));
  const timer = setTimeout(() => report(), CONNECT_TIMEOUT_MS);
  const report = () => {
    clearTimeout(timer);
    onSettled = () => { /* reported */ };
    port.postMessage({ type: 'ready', stats, first } satisfies FromThread);
  };
  onSettled = () => { if (settled === conns.length) report(); };

  port.once('message', (msg: ToThread) => {
    tStart = msg.tStart;
    tEnd = msg.tEnd;
    let cpuAtStart = NaN;
    setTimeout(() => { cpuAtStart = threadCpuMs(); }, Math.max(0, tStart - nowMs()));
    sending = true;
    const t0 = nowMs();
    for (const c of conns) if (c.open) c.send(P, t0);
    setTimeout(() => {
      const cpuWindowMs = threadCpuMs() - cpuAtStart;
      sending = false;
      // Outstanding replies may still arrive (and are checked); what does not is stalled.
      const drainUntil = nowMs() + DRAIN_MS;
      const drain = () => {
        if (nowMs() < drainUntil && conns.some((c) => c.open && c.count > 0)) return void setTimeout(drain, 10);
        stats.stalled = conns.reduce((s, c) => s + (c.open ? c.count : 0), 0);
        finishing = true;
        for (const c of conns) c.close();
        port.postMessage({ type: 'done', stats, first, hist: hist.snapshot(), cpuWindowMs } satisfies FromThread);
        port.close();
      };
      drain();
    }, Math.max(0, tEnd - nowMs()));
  });
}

const INCOMPLETE = -1;
const MALFORMED = -2;

/** Where the server's text frame at `pos` ends: INCOMPLETE, or MALFORMED for anything but an unmasked, final text frame under 64 KiB. */
function frameEnd(data: Buffer, pos: number): number {
  if (data.length - pos < 2) return INCOMPLETE;
  if (data[pos] !== 0x81 || (data[pos + 1]! & 0x80) !== 0) return MALFORMED;
  let length = data[pos + 1]!;
  let at = pos + 2;
  if (length === 127) return MALFORMED;
  if (length === 126) {
    if (data.length - at < 2) return INCOMPLETE;
    length = data.readUInt16BE(at);
    at += 2;
  }
  return at + length <= data.length ? at + length : INCOMPLETE;
}

// ---- main thread: options, threads, the result ----

async function mainThread(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      conns: { type: 'string', default: '50' },
      pipeline: { type: 'string', default: '16' },
      size: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '1' },
      duration: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
    },
  });
  const host = opt.host!;
  const port = Number(opt.port);
  const conns = Number(opt.conns);
  const P = Number(opt.pipeline);
  const size = Number(opt.size);
  const warmupS = Number(opt.warmup);
  const durationS = Number(opt.duration);
  const int = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!int(port, 1, 65535) || !int(conns, 1, 10_000) || !int(P, 1, 1024) || !int(size, 8, 65535 - 8) ||
      !(warmupS >= 0 && warmupS <= 600) || !(durationS > 0 && durationS <= 600) || !int(Number(opt.threads), 1, 16)) {
    console.error('ws-echo: bad arguments');
    process.exit(2);
  }
  if (host !== '127.0.0.1' && host !== '::1') { // never load anything but this machine
    console.error('ws-echo: --host must be 127.0.0.1 or ::1');
    process.exit(2);
  }
  const T = Math.min(Number(opt.threads), conns);
  setTimeout(() => {
    console.error('ws-echo: hard time cap hit');
    process.exit(4);
  }, CONNECT_TIMEOUT_MS + (warmupS + durationS) * 1000 + DRAIN_MS + 10_000).unref();

  const base = process.hrtime.bigint();
  calibrate(base);
  const threads: Worker[] = [];
  const inbox: FromThread[][] = [];
  const waiters: (() => void)[] = [];
  let threadError: string | null = null;
  for (let t = 0; t < T; t++) {
    const share = Math.floor(conns / T) + (t < conns % T ? 1 : 0);
    const w = new Worker(new URL(import.meta.url), { workerData: { host, port, conns: share, pipeline: P, size, base } satisfies Setup });
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

  const ready = await fromAll('ready', CONNECT_TIMEOUT_MS + 2000);
  const established = ready.reduce((s, r) => s + (r?.stats.established ?? 0), 0);
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
  const stats: Stats = { established, handshake_errors: 0, mismatches: 0, proto_errors: 0, conn_errors: 0, closes: 0, replies: 0, stalled: 0 };
  let first: string | null = threadError;
  const perThread: number[] = [];
  for (const [t, d] of done.entries()) {
    const s = d?.stats ?? ready[t]?.stats;
    if (s) for (const k of Object.keys(stats) as (keyof Stats)[]) if (k !== 'established') stats[k] += s[k];
    first ??= d?.first ?? ready[t]?.first ?? null;
    if (d === undefined) {
      stats.proto_errors++;
      first ??= `thread ${t} did not report`;
      continue;
    }
    hist.merge(d.hist);
    perThread.push(round2(d.cpuWindowMs / 1000 / durationS));
  }
  for (const w of threads) void w.terminate();
  const total = process.cpuUsage();
  const result = {
    host, port, conns, pipeline: P, size, threads: T, warmup_s: warmupS, duration_s: durationS,
    established, requests: hist.count, rps: Math.round(hist.count / durationS), latency_us: hist.summaryUs(), replies_total: stats.replies,
    handshake_errors: stats.handshake_errors, mismatches: stats.mismatches, proto_errors: stats.proto_errors, conn_errors: stats.conn_errors,
    closes: stats.closes, stalled: stats.stalled, first_error: first,
    client_cpu: { cores: round2((cpuWindow.user + cpuWindow.system) / 1e6 / durationS), threads: perThread },
    cpu_ms: Math.round((total.user + total.system) / 1000), // lets the runner spot other load
  };
  const bad = stats.handshake_errors + stats.mismatches + stats.proto_errors + stats.conn_errors + stats.closes + stats.stalled;
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
  process.exit(hist.count > 0 && established === conns && bad === 0 && first === null ? 0 : 1);
}
