// Closed-loop, validating load generator, run as its own process so its CPU shows up
// apart from the server's (both share the machine's cores).
//
//   node test/dist/bench/loadgen.js --proto line --port N [--host 127.0.0.1] [--conns 50]
//        [--pipeline 1] [--size 64] [--warmup 1] [--duration 3]
//
// Every connection keeps `pipeline` requests outstanding; whenever replies complete it
// sends as many new ones in one write. Every reply is checked byte for byte against the
// request it answers. Prints one JSON object on stdout. Exit 0 ok, 1 validation errors
// or nothing completed, 2 usage, 4 hard time cap.
//
// Kept cheap because it competes with the server for CPU: one shared read buffer
// (`onread`, no allocation per read), pre-built requests sent as slices of one pool,
// frames found with indexOf and checked with Buffer.compare.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Histogram } from './histogram.js';
import { frameEnd, INCOMPLETE, MALFORMED, PROTOS, requestPool, type Proto } from './frames.js';

const { values: opt } = parseArgs({
  options: {
    proto: { type: 'string', default: 'line' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    conns: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '1' },
    size: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '3' },
    // TLS to the server (its certificate is not checked: a bench on loopback with a throwaway one).
    tls: { type: 'boolean', default: false },
  },
});
const proto = opt.proto as Proto;
const host = opt.host!;
const port = Number(opt.port);
const conns = Number(opt.conns);
const P = Number(opt.pipeline);
const size = Number(opt.size);
const warmupMs = Number(opt.warmup) * 1000;
const durationMs = Number(opt.duration) * 1000;
if (!PROTOS.includes(proto) || !(port > 0 && port < 65536) || !(conns >= 1) || !(P >= 1) || !(size >= 1) ||
    !(warmupMs >= 0) || !(durationMs > 0)) {
  console.error('loadgen: bad arguments');
  process.exit(2);
}
if (host !== '127.0.0.1' && host !== '::1') { // never load anything but this machine
  console.error('loadgen: --host must be 127.0.0.1 or ::1');
  process.exit(2);
}

const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_MS = 1000; // after the window: how long outstanding replies may take before counting as stalled
// Whatever happens, never hang.
setTimeout(() => {
  console.error('loadgen: hard time cap hit');
  process.exit(4);
}, CONNECT_TIMEOUT_MS + warmupMs + durationMs + DRAIN_MS + 10_000).unref();

// Distinct requests, enough that a reordered or duplicated reply cannot match by luck.
const COUNT = Math.max(4 * P, Math.min(4096, Math.floor((8 << 20) / size)));
const { pool, frameSize: F } = requestPool(proto, size, COUNT);
const single: Buffer[] = []; // request i alone, pre-sliced for the pipeline-1 case
for (let i = 0; i < COUNT; i++) single.push(pool.subarray(i * F, (i + 1) * F));

const hist = new Histogram();
const stats = { mismatches: 0, protoErrors: 0, connErrors: 0, closes: 0, replies: 0 };
let tStart = Infinity; // measured window: requests sent in [tStart, tEnd) and answered by tEnd
let tEnd = Infinity;
let sending = false;
let finishing = false;
const readBuffer = Buffer.allocUnsafe(256 * 1024); // shared: each read is consumed before the next

class Conn {
  readonly sock: Socket;
  // Outstanding requests, oldest first (ring of P): pool index and send time.
  private readonly idx = new Int32Array(P);
  private readonly sent = new Float64Array(P);
  private head = 0;
  count = 0;
  private leftover: Buffer | null = null; // an incomplete reply frame (line, netstring)
  private got = 0; // echo: bytes of the oldest reply received so far
  private bad = false; // echo: the oldest reply already differs
  open = false;

  constructor(onConnect: (c: Conn) => void) {
    if (opt.tls) {
      // node:tls has no onread: each decrypted chunk arrives as a 'data' Buffer.
      this.sock = tlsConnect({ host, port, rejectUnauthorized: false });
      this.sock.setNoDelay(true);
      this.sock.on('data', (chunk: Buffer) => this.onRead(chunk.length, chunk));
    } else {
      this.sock = connect({
        host, port, noDelay: true,
        onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => { this.onRead(n, buf as Buffer); return true; } },
      });
    }
    this.sock.once(opt.tls ? 'secureConnect' : 'connect', () => { this.open = true; onConnect(this); });
    this.sock.on('error', () => { stats.connErrors++; });
    this.sock.on('close', () => {
      if (this.open && !finishing) stats.closes++;
      this.open = false;
    });
  }

  /** Send the next `k` requests (consecutive in the pool) in one write. */
  send(k: number, now: number): void {
    const first = Math.floor(Math.random() * (COUNT - k + 1));
    this.sock.write(k === 1 ? single[first]! : pool.subarray(first * F, (first + k) * F));
    let slot = (this.head + this.count) % P;
    for (let j = 0; j < k; j++) {
      this.idx[slot] = first + j;
      this.sent[slot] = now;
      if (++slot === P) slot = 0;
    }
    this.count += k;
  }

  private complete(now: number): void {
    const sent = this.sent[this.head]!;
    if (sent >= tStart && now <= tEnd) hist.record(now - sent);
    stats.replies++;
    if (++this.head === P) this.head = 0;
    this.count--;
  }

  private protocolError(): void {
    stats.protoErrors++;
    this.open = false;
    this.sock.destroy();
  }

  private onRead(n: number, buf: Buffer): void {
    const now = performance.now();
    const before = this.count;
    if (proto === 'echo') this.readStream(n, buf, now);
    else this.readFrames(n, buf, now);
    const done = before - this.count;
    if (done > 0 && sending && this.open) this.send(done, now);
  }

  /** line/netstring: each reply frame must equal the request it answers. */
  private readFrames(n: number, buf: Buffer, now: number): void {
    let data = buf.subarray(0, n);
    if (this.leftover !== null) {
      data = Buffer.concat([this.leftover, data]);
      this.leftover = null;
    }
    let pos = 0;
    while (pos < data.length) {
      // Fast path: the replies to a run of requests sent together are, byte for byte, that
      // run of the pool (well-formed frames), so one compare checks them all.
      const first = this.idx[this.head]!;
      let run = 0;
      while (run < this.count && pos + (run + 1) * F <= data.length && this.idx[(this.head + run) % P] === first + run) run++;
      if (run > 0 && data.compare(pool, first * F, (first + run) * F, pos, pos + run * F) === 0) {
        for (let j = 0; j < run; j++) this.complete(now);
        pos += run * F;
        continue;
      }
      // Otherwise one frame as the framing says, so a bad one counts once and the stream resynchronises.
      const end = frameEnd(proto, data, pos, data.length);
      if (end === INCOMPLETE) break;
      if (end === MALFORMED || this.count === 0) return this.protocolError(); // bad frame, or a reply nobody asked for
      const at = this.idx[this.head]! * F;
      if (data.compare(pool, at, at + F, pos, end) !== 0) stats.mismatches++;
      this.complete(now);
      pos = end;
    }
    if (pos < data.length) {
      if (data.length - pos > 2 * F + 64) return this.protocolError(); // no frame end where one must be
      this.leftover = Buffer.from(data.subarray(pos)); // a copy: `buf` is reused by the next read
    }
  }

  /** echo: the byte stream must equal the requests' bytes in order. */
  private readStream(n: number, buf: Buffer, now: number): void {
    let pos = 0;
    while (pos < n) {
      if (this.count === 0) return this.protocolError(); // bytes nobody asked for
      const at = this.idx[this.head]! * F + this.got;
      const take = Math.min(F - this.got, n - pos);
      if (!this.bad && buf.compare(pool, at, at + take, pos, pos + take) !== 0) this.bad = true;
      this.got += take;
      pos += take;
      if (this.got === F) {
        if (this.bad) stats.mismatches++;
        this.got = 0;
        this.bad = false;
        this.complete(now);
      }
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  // Connect everything first (not measured).
  const all: Conn[] = [];
  let connected = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
    const settle = () => { if (connected + stats.connErrors >= conns) { clearTimeout(timer); resolve(); } };
    for (let i = 0; i < conns; i++) {
      const c = new Conn(() => { connected++; settle(); });
      c.sock.once('error', settle);
      all.push(c);
    }
  });

  const t0 = performance.now();
  tStart = t0 + warmupMs;
  tEnd = tStart + durationMs;
  sending = true;
  for (const c of all) if (c.open) c.send(P, t0);
  await sleep(warmupMs + durationMs);
  sending = false;

  // Let outstanding replies arrive (they are still validated); what does not is stalled.
  const drainUntil = performance.now() + DRAIN_MS;
  while (performance.now() < drainUntil && all.some((c) => c.open && c.count > 0)) await sleep(10);
  const stalled = all.reduce((s, c) => s + (c.open ? c.count : 0), 0);
  finishing = true;
  for (const c of all) c.sock.destroy();

  const result = {
    proto, host, port, conns, pipeline: P, size, warmup_s: warmupMs / 1000, duration_s: durationMs / 1000,
    established: connected, requests: hist.count, rps: Math.round(hist.count / (durationMs / 1000)),
    latency_us: hist.summaryUs(), replies_total: stats.replies,
    mismatches: stats.mismatches, proto_errors: stats.protoErrors, conn_errors: stats.connErrors,
    closes: stats.closes, stalled,
    cpu_ms: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000), // lets the runner spot other load
  };
  const ok = hist.count > 0 && connected === conns &&
    stats.mismatches + stats.protoErrors + stats.connErrors + stats.closes + stalled === 0;
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  console.error('loadgen:', err);
  process.exit(1);
});
