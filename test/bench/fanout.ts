// Pub/sub fan-out load generator (RESP2, or WebSocket text messages), run as its own process
// like loadgen.js so its CPU shows up apart from the server's.
//
//   node test/dist/bench/fanout.js --port N [--host 127.0.0.1] [--subscribers 50] [--publishers 1]
//        [--depth 16] [--size 64] [--warmup 1] [--duration 3] [--threads 2] [--window 4096]
//        [--proto resp|websocket]
//
// With `--proto websocket` every connection first does the opening handshake (ws-wire.ts), a
// subscriber sends the text message `subscribe` and waits for `subscribed`, a publisher sends
// its payloads as masked text messages (a fresh mask each) and each reply must be the text of
// the subscriber count; deliveries are the server's text frames of the payloads, checked as
// below. That is what test/bench/ws-fanout-handler.mjs and ws-baseline.js broadcast speak.
//
// `subscribers` connections send `SUBSCRIBE c` and wait for every `subscribe c 1` confirmation;
// then `publishers` connections each keep `depth` `PUBLISH c <payload>` in flight (closed loop:
// a new one per reply; every reply must be `:subscribers`). A payload of `size` bytes (≥ 32)
// carries its publisher, sequence number and send time as 8 hex digits each, then a fixed filler:
// every delivered `message` frame (a fixed length) is checked byte for byte but for those fields,
// and per subscriber and publisher the sequence must be the next one (loss, duplicate, reorder).
// Publishers pause while subscribers trail the published count by more than `window` messages
// on average, so the server's buffers stay bounded and a slow fan-out shows as a lower rate.
// After the measured window the publishers collect their last replies (3 s at most), then the
// run waits up to 3 s for every delivery (the sum of the replies' receiver counts): the rest
// are lost. Latency is publish → delivery, the delivery time taken once per read.
//
// Subscribers live in `threads` worker threads (each owns a slice of the sockets, parses frames
// by their fixed length, makes no string per message); publishers in the main thread. Prints one
// JSON object on stdout (`setup_error` set if the subscribers or publishers could not start).
// Exit 0 ok, 1 errors, lost messages or failed set-up, 2 usage, 4 hard time cap.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Histogram, type HistogramSnapshot } from './histogram.js';
import { clientText, clientTextHeader, Handshake, headerLength, mask, serverText } from './ws-wire.js';

const CHANNEL = 'c';
const FIELDS = 24; // publisher, sequence, send time (µs): 8 hex digits each
const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_MS = 3000;

/** What the main thread tells every subscriber thread at start. */
type Proto = 'resp' | 'websocket';
interface Setup {
  host: string; port: number; publishers: number; size: number; proto: Proto;
  /** Global numbers of this thread's subscribers. */
  ids: number[];
  /** process.hrtime.bigint() at the main thread's start: the common time origin. */
  base: bigint;
  /** One slot per thread: its delivered count so far (for the publishers' window). */
  delivered: SharedArrayBuffer; slot: number;
}
type ToThread = { type: 'window'; tStart: number; tEnd: number } | { type: 'finish' };
type FromThread =
  | { type: 'ready'; subscribed: number; errors: Errors }
  | { type: 'armed' }
  | { type: 'done'; delivered: number; inWindow: number; hist: HistogramSnapshot; errors: Errors; cpuWindowMs: number };

const ERROR_KINDS = ['connect', 'handshake', 'subscribe', 'closed', 'unexpected_frame', 'bad_payload', 'out_of_order', 'protocol', 'error_reply',
  'publish_count', 'reply_timeout', 'extra'] as const;
type Kind = typeof ERROR_KINDS[number];
interface Errors { counts: Record<Kind, number>; first: string | null }
const newErrors = (): Errors => ({ counts: Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<Kind, number>, first: null });

// ---- shared by both sides: the wire format ----

/** Delivered frames for payloads of `size` bytes: the header's length, the expected frame (fields zeroed). */
function messageFrame(size: number, proto: Proto): { header: number; frame: Buffer } {
  if (proto === 'websocket') return { header: headerLength(size, false), frame: serverText(payloadTemplate(size)) };
  const header = Buffer.from(`*3\r\n$7\r\nmessage\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n$${size}\r\n`, 'latin1');
  return { header: header.length, frame: Buffer.concat([header, payloadTemplate(size), Buffer.from('\r\n')]) };
}

/** A payload with its fields zeroed and the filler after them. */
function payloadTemplate(size: number): Buffer {
  const p = Buffer.alloc(size, 0x30);
  for (let i = FIELDS; i < size; i++) p[i] = 0x61 + (i % 26); // a-z, so a shifted byte shows
  return p;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX_DIGITS[i]!] = i;

function writeHex8(buf: Buffer, at: number, v: number): void {
  for (let i = 7; i >= 0; i--) {
    buf[at + i] = HEX_DIGITS[v & 15]!;
    v >>>= 4;
  }
}

/** The 8 hex digits at `at` as a number, or -1 if any is not a lower-case hex digit. */
function readHex8(buf: Buffer, at: number): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const d = HEX_VALUE[buf[at + i]!]!;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Microseconds since the main thread's `process.hrtime.bigint()` origin, from this thread's performance.now(). */
let offsetUs = 0;
function calibrate(base: bigint): void {
  offsetUs = Number(process.hrtime.bigint() - base) / 1000 - performance.now() * 1000;
}
const nowUs = () => performance.now() * 1000 + offsetUs;

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

function fail(errors: Errors, kind: Kind, detail: string): void {
  errors.counts[kind]++;
  errors.first ??= `${kind}: ${detail}`;
}

/** Up to 64 bytes at `at`, printable, for an error message. */
const snippet = (buf: Buffer, at: number, end: number) =>
  JSON.stringify(buf.toString('latin1', at, Math.min(end, at + 64)));

if (isMainThread) {
  void mainThread();
} else {
  subscriberThread(workerData as Setup);
}

// ---- subscriber threads ----

function subscriberThread(setup: Setup): void {
  const port = parentPort!;
  const { host, publishers: P, size, ids } = setup;
  calibrate(setup.base);
  const ws = setup.proto === 'websocket';
  const { header: H, frame: T } = messageFrame(size, setup.proto);
  const L = T.length;
  const CONFIRM = ws ? serverText(Buffer.from('subscribed'))
    : Buffer.from(`*3\r\n$9\r\nsubscribe\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n:1\r\n`, 'latin1');
  const subscribe = () => ws ? clientText(Buffer.from('subscribe'))
    : Buffer.from(`*2\r\n$9\r\nSUBSCRIBE\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n`, 'latin1');
  const shared = new BigInt64Array(setup.delivered);
  const errors = newErrors();
  const hist = new Histogram();
  const next = new Float64Array(ids.length * P); // next sequence expected per (subscriber, publisher)
  const readBuffer = Buffer.allocUnsafe(256 * 1024); // shared: each read is consumed before the next
  let delivered = 0;
  let inWindow = 0;
  let tStart = Infinity;
  let tEnd = Infinity;
  let finishing = false;
  let subscribed = 0;
  let settled = 0; // subscribers confirmed or failed before it
  let cpuAtStart = NaN;
  let cpuAtEnd = NaN;
  let onSettled = () => { /* set below */ };

  class Sub {
    readonly sock: Socket;
    private confirmed = 0; // bytes of the confirmation received
    private readonly partial = Buffer.allocUnsafe(L); // a frame split between reads
    private have = 0;
    private open = false;
    private hs = ws ? new Handshake(host, setup.port) : null; // websocket: until the server's 101 is in

    constructor(readonly n: number) {
      this.sock = connect({
        host, port: setup.port, noDelay: true,
        onread: { buffer: readBuffer, callback: (len: number, buf: Uint8Array) => { this.onRead(len, buf as Buffer); return true; } },
      });
      this.sock.once('connect', () => { this.open = true; this.sock.write(this.hs ? this.hs.request : subscribe()); });
      this.sock.on('error', (err) => { if (!finishing) fail(errors, this.open ? 'closed' : 'connect', `subscriber ${ids[n]}: ${err.message}`); });
      this.sock.on('close', (hadError) => {
        if (this.open && !finishing && !hadError) fail(errors, 'closed', `subscriber ${ids[n]} closed by the server`);
        this.open = false;
        if (this.confirmed < CONFIRM.length) { settled++; onSettled(); }
      });
    }

    private broken(kind: Kind, buf: Buffer, at: number, end: number): void {
      fail(errors, kind, `subscriber ${ids[this.n]}: ${snippet(buf, at, end)}`);
      this.open = false; // its stream cannot be followed any more: what it misses counts as lost
      this.sock.destroy();
    }

    private onRead(len: number, buf: Buffer): void {
      if (!this.open) return;
      let pos = 0;
      if (this.hs !== null) {
        try {
          pos = this.hs.feed(buf, len);
        } catch (err) {
          fail(errors, 'handshake', `subscriber ${ids[this.n]}: ${(err as Error).message}`);
          this.open = false;
          this.sock.destroy();
          return;
        }
        if (pos === -1) return;
        this.hs = null;
        this.sock.write(subscribe());
      }
      while (this.confirmed < CONFIRM.length && pos < len) {
        if (buf[pos] !== CONFIRM[this.confirmed]) return this.broken('subscribe', buf, pos, len);
        pos++;
        if (++this.confirmed === CONFIRM.length) { subscribed++; settled++; onSettled(); }
      }
      const now = nowUs();
      const counted = now >= tStart && now < tEnd;
      if (this.have > 0) {
        const take = Math.min(L - this.have, len - pos);
        buf.copy(this.partial, this.have, pos, pos + take);
        this.have += take;
        pos += take;
        if (this.have < L) return;
        this.have = 0;
        if (!this.check(this.partial, 0, now, counted)) return;
      }
      for (; pos + L <= len; pos += L) if (!this.check(buf, pos, now, counted)) return;
      if (pos < len) {
        buf.copy(this.partial, 0, pos, len);
        this.have = len - pos;
      }
      Atomics.store(shared, setup.slot, BigInt(delivered));
    }

    /** One `message` frame at `at`: false if it broke the stream. */
    private check(b: Buffer, at: number, now: number, counted: boolean): boolean {
      for (let i = 0; i < H; i++) {
        if (b[at + i] !== T[i]) {
          this.broken('unexpected_frame', b, at, at + L);
          return false;
        }
      }
      for (let i = H + FIELDS; i < L; i++) {
        if (b[at + i] !== T[i]) {
          this.broken('bad_payload', b, at, at + L);
          return false;
        }
      }
      const pub = readHex8(b, at + H);
      const seq = readHex8(b, at + H + 8);
      const sent = readHex8(b, at + H + 16);
      if (pub < 0 || pub >= P || seq < 0 || sent < 0) {
        this.broken('bad_payload', b, at, at + L);
        return false;
      }
      const k = this.n * P + pub;
      const want = next[k]!;
      if (seq !== want) {
        fail(errors, 'out_of_order', `subscriber ${ids[this.n]} publisher ${pub}: sequence ${seq}, expected ${want} ` +
          `(${seq < want ? 'duplicate or reordered' : `${seq - want} missing`})`);
      }
      next[k] = seq + 1;
      delivered++;
      if (counted) {
        inWindow++;
        hist.record((now - sent) / 1000);
      }
      return true;
    }

    close(): void {
      this.sock.destroy();
    }
  }

  const subs = ids.map((_, n) => new Sub(n));
  const timer = setTimeout(() => report(), CONNECT_TIMEOUT_MS);
  const report = () => {
    clearTimeout(timer);
    onSettled = () => { /* reported */ };
    port.postMessage({ type: 'ready', subscribed, errors } satisfies FromThread);
  };
  onSettled = () => { if (settled === ids.length) report(); };

  port.on('message', (msg: ToThread) => {
    if (msg.type === 'window') {
      tStart = msg.tStart;
      tEnd = msg.tEnd;
      setTimeout(() => { cpuAtStart = threadCpuMs(); }, Math.max(0, (tStart - nowUs()) / 1000));
      setTimeout(() => { cpuAtEnd = threadCpuMs(); }, Math.max(0, (tEnd - nowUs()) / 1000));
      port.postMessage({ type: 'armed' } satisfies FromThread);
      return;
    }
    finishing = true;
    for (const s of subs) s.close();
    port.postMessage({ type: 'done', delivered, inWindow, hist: hist.snapshot(), errors, cpuWindowMs: cpuAtEnd - cpuAtStart } satisfies FromThread);
    port.close();
  });
}

// ---- main thread: options, publishers, results ----

async function mainThread(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      subscribers: { type: 'string', default: '50' },
      publishers: { type: 'string', default: '1' },
      depth: { type: 'string', default: '16' },
      size: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '1' },
      duration: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      window: { type: 'string', default: '4096' },
      proto: { type: 'string', default: 'resp' },
    },
  });
  const proto = opt.proto as Proto;
  const ws = proto === 'websocket';
  const host = opt.host!;
  const port = Number(opt.port);
  const S = Number(opt.subscribers);
  const P = Number(opt.publishers);
  const D = Number(opt.depth);
  const size = Number(opt.size);
  const warmupS = Number(opt.warmup);
  const durationS = Number(opt.duration);
  const W = Number(opt.window);
  const int = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!int(port, 1, 65535) || !int(S, 1, 10_000) || !int(P, 1, 1000) || !int(D, 1, 10_000) || !int(size, 32, 1 << 20) ||
      !(warmupS >= 0 && warmupS <= 600) || !(durationS > 0 && durationS <= 600) || !int(Number(opt.threads), 1, 16) || !int(W, 1, 1 << 24) ||
      (proto !== 'resp' && !ws) || (ws && size >= 0x10000)) {
    console.error('fanout: bad arguments');
    process.exit(2);
  }
  if (host !== '127.0.0.1' && host !== '::1') { // never load anything but this machine
    console.error('fanout: --host must be 127.0.0.1 or ::1');
    process.exit(2);
  }
  const T = Math.min(Number(opt.threads), S);
  // Whatever happens, never hang.
  setTimeout(() => {
    console.error('fanout: hard time cap hit');
    process.exit(4);
  }, (warmupS + durationS + 30) * 1000).unref();

  const base = process.hrtime.bigint();
  calibrate(base);
  const cpu0 = process.cpuUsage();
  const errors = newErrors();
  const hist = new Histogram();
  const deliveredShared = new SharedArrayBuffer(8 * T);
  const deliveredNow = new BigInt64Array(deliveredShared);
  const delivered = () => {
    let n = 0;
    for (let i = 0; i < T; i++) n += Number(Atomics.load(deliveredNow, i));
    return n;
  };

  // Subscriber threads: subscriber i in thread i mod T.
  const threads: Worker[] = [];
  const inbox: FromThread[][] = [];
  const waiters: (() => void)[] = [];
  for (let t = 0; t < T; t++) {
    const ids: number[] = [];
    for (let i = t; i < S; i += T) ids.push(i);
    const w = new Worker(new URL(import.meta.url), {
      workerData: { host, port, publishers: P, size, proto, ids, base, delivered: deliveredShared, slot: t } satisfies Setup,
    });
    inbox.push([]);
    w.on('message', (m: FromThread) => { inbox[t]!.push(m); for (const f of waiters.splice(0)) f(); });
    w.on('error', (err) => { fail(errors, 'protocol', `subscriber thread ${t}: ${err.stack ?? err.message}`); for (const f of waiters.splice(0)) f(); });
    threads.push(w);
  }
  /** The next message of `type` from every thread, or undefined for those silent after `ms`. */
  const fromAll = async <K extends FromThread['type']>(type: K, ms: number): Promise<(Extract<FromThread, { type: K }> | undefined)[]> => {
    const until = Date.now() + ms;
    const find = () => inbox.map((box) => box.find((m) => m.type === type) as Extract<FromThread, { type: K }> | undefined);
    while (find().some((m) => m === undefined) && Date.now() < until) {
      await new Promise<void>((r) => { const tm = setTimeout(r, until - Date.now()); waiters.push(() => { clearTimeout(tm); r(); }); });
    }
    return find();
  };
  const merge = (e: Errors) => {
    for (const k of ERROR_KINDS) errors.counts[k] += e.counts[k];
    errors.first ??= e.first;
  };

  const ready = await fromAll('ready', CONNECT_TIMEOUT_MS + 2000);
  const result = {
    host, port, subscribers: S, publishers: P, depth: D, size, threads: T, window: W, warmup_s: warmupS, duration_s: durationS,
    subscribed: 0, published_per_s: 0, delivered_per_s: 0, published_total: 0, sent_total: 0, delivered_total: 0, expected_total: 0, lost: 0,
    latency_us: hist.summaryUs(), errors: 0, error_detail: errors.counts, first_error: null as string | null, setup_error: null as string | null,
    client_cpu: { cores: 0, user: 0, system: 0, main_thread: 0, subscriber_threads: [] as number[] }, cpu_ms: 0,
  };
  const finish = async (): Promise<number> => {
    const done = await fromAll('done', 5000);
    for (const [t, d] of done.entries()) {
      if (d === undefined) {
        const early = ready[t]?.errors;
        if (early) merge(early);
        fail(errors, 'protocol', `subscriber thread ${t} did not report`);
        continue;
      }
      merge(d.errors); // all of that thread's, since its start
      hist.merge(d.hist);
      result.delivered_total += d.delivered;
      result.delivered_per_s += d.inWindow / durationS;
      result.client_cpu.subscriber_threads.push(round2(d.cpuWindowMs / 1000 / durationS));
    }
    for (const w of threads) void w.terminate();
    if (result.expected_total > result.delivered_total) result.lost = result.expected_total - result.delivered_total;
    else if (result.delivered_total > result.expected_total) fail(errors, 'extra', `${result.delivered_total - result.expected_total} deliveries more than the replies counted`);
    result.latency_us = hist.summaryUs();
    result.delivered_per_s = Math.round(result.delivered_per_s);
    result.errors = ERROR_KINDS.reduce((s, k) => s + errors.counts[k], 0);
    result.first_error = errors.first;
    const used = process.cpuUsage(cpu0);
    result.cpu_ms = Math.round((used.user + used.system) / 1000);
    await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
    return result.setup_error === null && result.errors === 0 && result.lost === 0 && result.delivered_total > 0 ? 0 : 1;
  };
  const sendAll = (m: ToThread) => { for (const w of threads) w.postMessage(m); };

  for (const r of ready) if (r) result.subscribed += r.subscribed;
  if (result.subscribed !== S) {
    result.setup_error = `${result.subscribed} of ${S} subscribers confirmed their subscription`;
    sendAll({ type: 'finish' });
    process.exit(await finish());
  }
  console.error(`fanout: subscribed ${S}`); // the bench runner may look at the server now

  // ---- publishers ----
  // websocket: a text frame of the payload, masked once stamped.
  const cmdHeader = ws ? clientTextHeader(size) : Buffer.from(`*3\r\n$7\r\nPUBLISH\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n$${size}\r\n`, 'latin1');
  const cmd = Buffer.concat([cmdHeader, payloadTemplate(size), Buffer.from(ws ? '' : '\r\n')]);
  const CL = cmd.length;
  const cmds = Buffer.concat(Array.from({ length: D }, () => cmd)); // D commands, copied then stamped
  const REPLY = ws ? serverText(Buffer.from(String(S))) : Buffer.from(`:${S}\r\n`, 'latin1');
  const readBuffer = Buffer.allocUnsafe(64 * 1024);
  let sending = false;
  let finishing = false;
  let sent = 0;
  let replies = 0;
  let repliesInWindow = 0;
  let tStart = Infinity;
  let tEnd = Infinity;
  const waiting = new Set<Pub>();
  let windowTimer: NodeJS.Timeout | undefined;
  const overWindow = () => sent - delivered() / S > W;
  const recheck = () => {
    windowTimer = undefined;
    for (const p of [...waiting]) { waiting.delete(p); p.fill(); }
    if (waiting.size > 0) windowTimer = setTimeout(recheck, 1);
  };

  class Pub {
    readonly sock: Socket;
    inflight = 0;
    private seq = 0;
    private partial: Buffer | null = null;
    open = false;
    private hs = ws ? new Handshake(host, port) : null; // websocket: until the server's 101 is in

    /** `onConnect`: connected (and the handshake done); `onFail`: the handshake failed. */
    constructor(readonly id: number, private readonly onConnect: () => void, private readonly onFail: () => void) {
      this.sock = connect({
        host, port, noDelay: true,
        onread: { buffer: readBuffer, callback: (len: number, buf: Uint8Array) => { this.onRead(len, buf as Buffer); return true; } },
      });
      this.sock.once('connect', () => {
        this.open = true;
        if (this.hs) this.sock.write(this.hs.request);
        else onConnect();
      });
      this.sock.on('error', (err) => { if (!finishing) fail(errors, this.open ? 'closed' : 'connect', `publisher ${id}: ${err.message}`); });
      this.sock.on('close', (hadError) => {
        if (this.open && !finishing && !hadError) fail(errors, 'closed', `publisher ${id} closed by the server`);
        this.open = false;
      });
    }

    /** Top up to `depth` publishes in flight, in one write, unless subscribers trail too far. */
    fill(): void {
      const k = D - this.inflight;
      if (!sending || !this.open || k <= 0) return;
      if (overWindow()) {
        waiting.add(this);
        windowTimer ??= setTimeout(recheck, 1);
        return;
      }
      const buf = Buffer.allocUnsafe(k * CL); // not reused: the socket may still hold it
      cmds.copy(buf, 0, 0, k * CL);
      const t = Math.floor(nowUs());
      for (let j = 0, at = cmdHeader.length; j < k; j++, at += CL) {
        writeHex8(buf, at, this.id);
        writeHex8(buf, at + 8, this.seq++);
        writeHex8(buf, at + 16, t);
        if (ws) mask(buf, at - 4, at, at + size);
      }
      this.sock.write(buf);
      this.inflight += k;
      sent += k;
    }

    private protocolError(data: Buffer, at: number): void {
      fail(errors, 'protocol', `publisher ${this.id}: ${snippet(data, at, data.length)}`);
      this.open = false;
      this.sock.destroy();
    }

    private reply(now: number, receivers: number): void {
      this.inflight--;
      replies++;
      if (now >= tStart && now < tEnd) repliesInWindow++;
      result.expected_total += receivers;
    }

    private onRead(len: number, buf: Buffer): void {
      if (!this.open) return;
      let from = 0;
      if (this.hs !== null) {
        try {
          from = this.hs.feed(buf, len);
        } catch (err) {
          fail(errors, 'handshake', `publisher ${this.id}: ${(err as Error).message}`);
          this.open = false;
          this.sock.destroy();
          return this.onFail();
        }
        if (from === -1) return;
        this.hs = null;
        this.onConnect();
        if (from === len) return;
      }
      const now = nowUs();
      let data = buf.subarray(from, len);
      if (this.partial !== null) {
        data = Buffer.concat([this.partial, data]);
        this.partial = null;
      }
      let pos = 0;
      while (pos < data.length) {
        if (this.inflight === 0) return this.protocolError(data, pos); // a reply nobody asked for
        if (pos + REPLY.length <= data.length && data.compare(REPLY, 0, REPLY.length, pos, pos + REPLY.length) === 0) {
          this.reply(now, S);
          pos += REPLY.length;
          continue;
        }
        if (ws) {
          // Another text frame: a count that is not the subscribers', or whatever the server says instead.
          if (data.length - pos < 2) break;
          if (data[pos] !== 0x81 || data[pos + 1]! >= 126) return this.protocolError(data, pos);
          const end = pos + 2 + data[pos + 1]!;
          if (end > data.length) break;
          const text = data.toString('utf8', pos + 2, end);
          const n = Number(text);
          if (/^\d+$/.test(text)) {
            fail(errors, 'publish_count', `publisher ${this.id}: a publish answered ${n} receivers, expected ${S}`);
            this.reply(now, n);
          } else {
            fail(errors, 'error_reply', `publisher ${this.id}: ${text}`);
            this.reply(now, 0);
          }
          pos = end;
          continue;
        }
        const crlf = data.indexOf('\r\n', pos, 'latin1');
        if (crlf === -1) {
          if (data.length - pos > 512) return this.protocolError(data, pos);
          break;
        }
        const line = data.toString('latin1', pos, crlf);
        const n = Number(line.slice(1));
        if (line[0] === ':' && Number.isInteger(n) && n >= 0) {
          fail(errors, 'publish_count', `publisher ${this.id}: PUBLISH answered ${n} receivers, expected ${S}`);
          this.reply(now, n);
        } else if (line[0] === '-') {
          fail(errors, 'error_reply', `publisher ${this.id}: ${line}`);
          this.reply(now, 0);
        } else {
          return this.protocolError(data, pos);
        }
        pos = crlf + 2;
      }
      if (pos < data.length) this.partial = Buffer.from(data.subarray(pos)); // a copy: `buf` is reused by the next read
      this.fill();
    }
  }

  const pubs: Pub[] = [];
  let connected = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
    const settle = () => { if (connected + errors.counts.connect + errors.counts.handshake >= P) { clearTimeout(timer); resolve(); } };
    for (let i = 0; i < P; i++) {
      const p = new Pub(i, () => { connected++; settle(); }, settle);
      p.sock.once('error', settle);
      pubs.push(p);
    }
  });
  if (connected !== P) {
    result.setup_error = `${connected} of ${P} publishers connected`;
    finishing = true;
    for (const p of pubs) p.sock.destroy();
    sendAll({ type: 'finish' });
    process.exit(await finish());
  }

  const t0 = nowUs();
  tStart = t0 + warmupS * 1e6;
  tEnd = tStart + durationS * 1e6;
  sendAll({ type: 'window', tStart, tEnd });
  await fromAll('armed', 5000);
  let mainCpuStart = NaN;
  let mainCpuEnd = NaN;
  let processCpuStart = process.cpuUsage();
  let processCpuEnd = processCpuStart;
  setTimeout(() => { mainCpuStart = threadCpuMs(); processCpuStart = process.cpuUsage(); }, Math.max(0, (tStart - nowUs()) / 1000));
  sending = true;
  for (const p of pubs) p.fill();
  await sleep(Math.max(0, (tEnd - nowUs()) / 1000));
  mainCpuEnd = threadCpuMs();
  processCpuEnd = process.cpuUsage(processCpuStart);
  sending = false;
  if (windowTimer) clearTimeout(windowTimer);
  waiting.clear();

  // The last replies, then the last deliveries.
  const inflight = () => pubs.reduce((s, p) => s + (p.open ? p.inflight : 0), 0);
  let until = Date.now() + DRAIN_MS;
  while (inflight() > 0 && Date.now() < until) await sleep(5);
  if (inflight() > 0) fail(errors, 'reply_timeout', `${inflight()} publishes unanswered ${DRAIN_MS / 1000} s after the run`);
  finishing = true;
  for (const p of pubs) p.sock.destroy();
  until = Date.now() + DRAIN_MS;
  while (delivered() < result.expected_total && Date.now() < until) await sleep(5);
  sendAll({ type: 'finish' });

  result.published_total = replies;
  result.sent_total = sent;
  result.published_per_s = Math.round(repliesInWindow / durationS);
  result.client_cpu.cores = round2((processCpuEnd.user + processCpuEnd.system) / 1e6 / durationS);
  result.client_cpu.user = round2(processCpuEnd.user / 1e6 / durationS);
  result.client_cpu.system = round2(processCpuEnd.system / 1e6 / durationS);
  result.client_cpu.main_thread = round2((mainCpuEnd - mainCpuStart) / 1000 / durationS);
  process.exit(await finish());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number) => Math.round(x * 100) / 100;
