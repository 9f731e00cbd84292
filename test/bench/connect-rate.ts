// Connect-rate load generator: how many short connections a line server serves per
// second. Run as its own process so its CPU shows up apart from the server's.
//
//   node test/dist/bench/connect-rate.js --port N [--host 127.0.0.1] [--loops 50]
//        [--size 64] [--warmup 1] [--duration 3]
//
// `loops` closed loops, each: connect, send one line of `size` random printable bytes,
// read the reply and check it byte for byte (a line server echoes), close (our FIN, then
// wait for the server's), repeat. A cycle counts when its connection has closed cleanly
// inside the measured window; its latency (connect to close) is recorded if it also
// started inside it. Refused connects, resets, wrong or missing replies and cycles taking
// longer than 5 s are counted as errors; a loop that hit one waits 10 ms before its next
// connect. Prints one JSON object on stdout. Exit 0 ok, 1 errors or nothing completed,
// 2 usage, 4 hard time cap.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Histogram } from './histogram.js';
import { requestPool } from './frames.js';

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    loops: { type: 'string', default: '50' },
    size: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '3' },
  },
});
const host = opt.host!;
const port = Number(opt.port);
const loops = Number(opt.loops);
const size = Number(opt.size);
const warmupMs = Number(opt.warmup) * 1000;
const durationMs = Number(opt.duration) * 1000;
if (!(port > 0 && port < 65536) || !(Number.isInteger(loops) && loops >= 1 && loops <= 1000) ||
    !(Number.isInteger(size) && size >= 1 && size <= 65536) || !(warmupMs >= 0) || !(durationMs > 0)) {
  console.error('connect-rate: bad arguments');
  process.exit(2);
}
if (host !== '127.0.0.1' && host !== '::1') { // never load anything but this machine
  console.error('connect-rate: --host must be 127.0.0.1 or ::1');
  process.exit(2);
}

const CYCLE_TIMEOUT_MS = 5000; // a cycle not closed by then is a timeout
const ERROR_PAUSE_MS = 10; // after an error, before that loop connects again
const DRAIN_MS = 1000; // after the window: how long cycles in flight may take before counting as stalled
// Whatever happens, never hang.
setTimeout(() => {
  console.error('connect-rate: hard time cap hit');
  process.exit(4);
}, warmupMs + durationMs + DRAIN_MS + 10_000).unref();

// Distinct requests, so a reply meant for another connection cannot match by luck.
const COUNT = 1024;
const { pool, frameSize: F } = requestPool('line', size, COUNT);
const readBuffer = Buffer.allocUnsafe(64 * 1024); // shared: each read is consumed before the next

const hist = new Histogram();
const stats = { cycles: 0, connects: 0, refused: 0, resets: 0, mismatches: 0, earlyCloses: 0, timeouts: 0, otherErrors: 0 };
const otherCodes: Record<string, number> = {};
let tStart = Infinity; // measured window [tStart, tEnd)
let tEnd = Infinity;
let sending = false;
let finishing = false;

class Loop {
  private sock: Socket | null = null;
  started = 0; // performance.now() at this cycle's connect
  private at = 0; // this cycle's request: pool offset
  private got = 0; // reply bytes received so far
  private replied = false; // the whole reply arrived and matched
  private failed = false; // an error was counted for this cycle

  get busy(): boolean { return this.sock !== null; }

  start(): void {
    if (!sending) return;
    this.started = performance.now();
    this.at = Math.floor(Math.random() * COUNT) * F;
    this.got = 0;
    this.replied = false;
    this.failed = false;
    const sock = connect({
      host, port, noDelay: true,
      onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => { this.onRead(n, buf as Buffer); return true; } },
    });
    this.sock = sock;
    sock.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    sock.on('close', () => this.onClose());
    sock.write(pool.subarray(this.at, this.at + F)); // queued until connected
  }

  /** Count an error for this cycle (once) and drop the connection. */
  fail(counter: 'mismatches' | 'earlyCloses' | 'timeouts'): void {
    if (this.failed || this.sock === null) return;
    this.failed = true;
    stats[counter]++;
    this.sock.destroy();
  }

  /** Drop the connection without counting anything (the run is over). */
  abort(): void {
    this.sock?.destroy();
  }

  private onRead(n: number, buf: Buffer): void {
    if (this.replied || this.got + n > F || buf.compare(pool, this.at + this.got, this.at + this.got + n, 0, n) !== 0) {
      return this.fail('mismatches'); // wrong bytes, or more than the one reply
    }
    this.got += n;
    if (this.got === F) {
      this.replied = true;
      this.sock!.end(); // the server's FIN ends the cycle ('close')
    }
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.failed || finishing) return;
    this.failed = true;
    if (err.code === 'ECONNREFUSED') stats.refused++;
    else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') stats.resets++;
    else {
      stats.otherErrors++;
      const code = err.code ?? err.message;
      otherCodes[code] = (otherCodes[code] ?? 0) + 1;
    }
  }

  private onClose(): void {
    this.sock = null;
    if (finishing) return;
    const now = performance.now();
    if (!this.failed && !this.replied) {
      this.failed = true;
      stats.earlyCloses++; // the server closed before the whole reply
    }
    if (this.failed) {
      setTimeout(() => this.start(), ERROR_PAUSE_MS);
      return;
    }
    stats.cycles++;
    if (now >= tStart && now < tEnd) {
      stats.connects++;
      if (this.started >= tStart) hist.record(now - this.started);
    }
    this.start();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const all: Loop[] = [];
  for (let i = 0; i < loops; i++) all.push(new Loop());
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const l of all) if (l.busy && now - l.started > CYCLE_TIMEOUT_MS) l.fail('timeouts');
  }, 250);

  const t0 = performance.now();
  tStart = t0 + warmupMs;
  tEnd = tStart + durationMs;
  sending = true;
  for (const l of all) l.start();
  await sleep(warmupMs + durationMs);
  sending = false;

  // Let cycles in flight finish (still checked); what does not is stalled.
  const drainUntil = performance.now() + DRAIN_MS;
  while (performance.now() < drainUntil && all.some((l) => l.busy)) await sleep(10);
  clearInterval(sweep);
  const stalled = all.filter((l) => l.busy).length;
  finishing = true;
  for (const l of all) l.abort();

  const cpu = process.cpuUsage();
  const result = {
    host, port, loops, size, warmup_s: warmupMs / 1000, duration_s: durationMs / 1000,
    connects: stats.connects, connects_per_s: Math.round(stats.connects / (durationMs / 1000)),
    latency_us: hist.summaryUs(), cycles_total: stats.cycles,
    refused: stats.refused, resets: stats.resets, mismatches: stats.mismatches, early_closes: stats.earlyCloses,
    timeouts: stats.timeouts, other_errors: stats.otherErrors, other_codes: otherCodes, stalled,
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000), // lets the runner spot other load
  };
  const errors = stats.refused + stats.resets + stats.mismatches + stats.earlyCloses + stats.timeouts + stats.otherErrors + stalled;
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
  return stats.connects > 0 && errors === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  console.error('connect-rate: bad run:', err);
  process.exit(1);
});
