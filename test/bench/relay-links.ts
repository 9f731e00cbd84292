// Pub/sub across worker processes: the arbiter relay (docs/design.md §15, pubsub-relay.ts)
// against direct worker-to-worker links, measured on a model of the message flow with nothing
// of socketserver loaded. The script forks itself: one publisher process A, one or two
// subscriber processes B, and this process as the arbiter.
//
//   npx tsc -b && node test/dist/bench/relay-links.js [--duration 3] [--warmup 0.5] [--size 64,4096]
//     [--window 16] [--rounds 3] [--subs 1,2]
//
// Modes (the messages have the shapes of pubsub-relay.ts: ps-interest, ps-peers, ps-pub,
// ps-deliver, ps-done, ps-count):
//   relay-json      today's design: A → arbiter → each B → arbiter → A, over Node's IPC channel
//                   (JSON), message bytes as base64; the arbiter checks each message as ipc.ts does
//   relay-advanced  the same with fork's `serialization: 'advanced'`: Buffers cross as they are
//   relay-unix      the same hops, but each worker has a unix socket to the arbiter besides IPC and
//                   the relay's messages cross it as binary frames (below): the hop without the codec
//   direct-unix     A holds one unix socket per B (each B listens, the arbiter passes A the path);
//                   binary length-prefixed frames: publish (id, channel, bytes) and count (id, n)
// A keeps `window` publishes in flight, each awaiting its count (the sum over the Bs; each B has
// one subscriber of the channel, so the count must equal the number of Bs). Each B checks that
// the sequence number A wrote into every message comes in order, none missing.
//
// Reports, per mode, subscriber count and message size, the medians over the rounds of:
// publishes/s, p50/p99 publish→count latency, and CPU time (process.cpuUsage, user+system) per
// publish of A, of the arbiter and of each B. Runs alternate the modes (a b c a b c ...), each
// on fresh processes; CPU per publish is the steadier figure on a busy machine (the processes
// share its cores, so publishes/s also measures how they were scheduled). Processes are marked
// at the same moment by an IPC message, so their intervals differ by that message's delivery.
// Exit 1 if any count or order was wrong. Not part of `npm run bench`.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Histogram } from './histogram.js';

const SELF = fileURLToPath(import.meta.url);
const MODES = ['relay-json', 'relay-advanced', 'relay-unix', 'direct-unix'] as const;
type Mode = (typeof MODES)[number];
const CHANNEL = 'news';

// ---- the relay's messages, as in pubsub-relay.ts ----

type WireMessage = { readonly s: string } | { readonly b: string | Uint8Array } | { readonly j: unknown };
type RelayFromWorker =
  | { readonly t: 'ps-interest'; readonly kind: 'channel' | 'pattern'; readonly key: string; readonly on: boolean }
  | { readonly t: 'ps-pub'; readonly id: number; readonly key: string; readonly msg: WireMessage }
  | { readonly t: 'ps-done'; readonly id: number; readonly n: number };
type RelayToWorker =
  | { readonly t: 'ps-peers'; readonly on: boolean }
  | { readonly t: 'ps-deliver'; readonly id: number; readonly key: string; readonly msg: WireMessage }
  | { readonly t: 'ps-count'; readonly id: number; readonly n: number };

/** Bytes as base64 over JSON IPC; as they are with advanced serialization or frames. */
function toWire(message: Buffer, asIs: boolean): WireMessage {
  return { b: asIs ? message : message.toString('base64') };
}
function fromWire(wire: WireMessage): unknown {
  if ('s' in wire) return wire.s;
  if ('b' in wire) return typeof wire.b === 'string' ? Buffer.from(wire.b, 'base64') : wire.b;
  return wire.j;
}

// ---- the benchmark's own control messages (x-*), on the same IPC channel ----

/** `path`: where a B listens (direct-unix); `paths`: A's peers (direct-unix); `arbiter`: the arbiter's socket (relay-unix). */
interface Setup { t: 'x-setup'; mode: Mode; size: number; window: number; subs: number; path?: string; paths?: string[]; arbiter?: string }
interface Report { t: 'x-report'; cpuUs: number; done: number; ms: number; p50: number; p99: number; errors: string[] }
type Control =
  | Setup | { t: 'x-ready'; path?: string } | { t: 'x-linked' } | { t: 'x-go' } | { t: 'x-mark' } | { t: 'x-stop' } | Report;

const send = (m: Control | RelayFromWorker): void => { process.send!(m); };

// ---- binary frames: [u32 length][u8 type][u32 id] then (u16 key length, key, bytes) or (u32 n) ----

const PUB = 1;
const COUNT = 2;
/** relay-unix: a worker's first frame on its socket to the arbiter, [u32 length][u8 3][u32 pid]; echoed back. */
const HELLO = 3;

function pubFrame(id: number, key: string, message: Buffer): Buffer {
  const keyLen = Buffer.byteLength(key, 'latin1');
  const f = Buffer.allocUnsafe(4 + 1 + 4 + 2 + keyLen + message.length);
  f.writeUInt32BE(f.length - 4, 0);
  f[4] = PUB;
  f.writeUInt32BE(id, 5);
  f.writeUInt16BE(keyLen, 9);
  f.write(key, 11, 'latin1');
  message.copy(f, 11 + keyLen);
  return f;
}
function countFrame(id: number, n: number, type = COUNT): Buffer {
  const f = Buffer.allocUnsafe(13);
  f.writeUInt32BE(9, 0);
  f[4] = type;
  f.writeUInt32BE(id, 5);
  f.writeUInt32BE(n, 9);
  return f;
}
/** A publish frame's id, key and bytes (a view of the frame). */
function readPub(f: Buffer): { id: number; key: string; msg: Buffer } {
  const keyLen = f.readUInt16BE(5);
  return { id: f.readUInt32BE(1), key: f.toString('latin1', 7, 7 + keyLen), msg: f.subarray(7 + keyLen) };
}

/**
 * How a worker talks to the arbiter: IPC, or (relay-unix) the relay's messages as frames on a
 * socket and the rest on IPC. `received` gets what the arbiter sends; `ready` is called once the
 * arbiter has the socket (at once over IPC).
 */
function arbiterLink(setup: Setup, received: (m: RelayToWorker) => void, ready: () => void): (m: RelayFromWorker) => void {
  process.on('message', (m: { t: string }) => { if (m.t.startsWith('ps-')) received(m as RelayToWorker); });
  if (setup.mode !== 'relay-unix') {
    queueMicrotask(ready);
    return send;
  }
  const socket = createConnection(setup.arbiter!);
  readFrames(socket, (f) => {
    if (f[0] === HELLO) ready();
    else if (f[0] === PUB) {
      const { id, key, msg } = readPub(f);
      received({ t: 'ps-deliver', id, key, msg: { b: msg } });
    } else if (f[0] === COUNT) received({ t: 'ps-count', id: f.readUInt32BE(1), n: f.readUInt32BE(5) });
    else throw new Error(`worker: frame type ${f[0]}`);
  });
  socket.write(countFrame(process.pid, 0, HELLO));
  return (m) => {
    if (m.t === 'ps-pub') socket.write(pubFrame(m.id, m.key, (m.msg as { b: Buffer }).b));
    else if (m.t === 'ps-done') socket.write(countFrame(m.id, m.n));
    else send(m);
  };
}
/** Calls `frame` with each whole frame (without its length) read from `socket`. */
function readFrames(socket: Socket, frame: (f: Buffer) => void): void {
  // The other end goes when a run's processes are stopped; nothing to report then.
  socket.on('error', () => socket.destroy());
  let rest: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    let b = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    while (b.length >= 4) {
      const len = b.readUInt32BE(0);
      if (b.length < 4 + len) break;
      frame(b.subarray(4, 4 + len));
      b = b.subarray(4 + len);
    }
    if (b.length > 0) rest = b;
  });
}

// ---- publisher (A) ----

interface Link { publish(key: string, message: Buffer): Promise<number> }

/** A's side of the relay, as WorkerRelay: one promise per publish, settled by ps-count. */
class RelayLink implements Link {
  private nextId = 0;
  private readonly waiting = new Map<number, (n: number) => void>();
  constructor(private readonly send: (m: RelayFromWorker) => void, private readonly asIs: boolean) {}
  publish(key: string, message: Buffer): Promise<number> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ t: 'ps-pub', id, key, msg: toWire(message, this.asIs) });
    });
  }
  counted(id: number, n: number): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(n);
  }
}

/** A's side of direct links: the frame to every peer, the count once each has answered. */
class DirectLink implements Link {
  private nextId = 0;
  private readonly waiting = new Map<number, { left: number; n: number; resolve: (n: number) => void }>();
  constructor(private readonly peers: Socket[]) {
    for (const p of peers) readFrames(p, (f) => {
      if (f[0] !== COUNT) throw new Error(`publisher: frame type ${f[0]}`);
      const id = f.readUInt32BE(1);
      const w = this.waiting.get(id);
      if (w === undefined) throw new Error(`publisher: count for unknown ${id}`);
      w.n += f.readUInt32BE(5);
      if (--w.left === 0) {
        this.waiting.delete(id);
        w.resolve(w.n);
      }
    });
  }
  publish(key: string, message: Buffer): Promise<number> {
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    const f = pubFrame(id, key, message);
    return new Promise((resolve) => {
      this.waiting.set(id, { left: this.peers.length, n: 0, resolve });
      for (const p of this.peers) p.write(f);
    });
  }
}

function publisher(): void {
  let setup: Setup | undefined;
  let relay: RelayLink | undefined;
  let link: Link | undefined;
  let message = Buffer.alloc(0);
  let running = false;
  let seq = 0;
  let hist = new Histogram();
  let done = 0;
  let markT = 0;
  let markCpu = process.cpuUsage();
  const errors: string[] = [];

  const publishOne = (): void => {
    message.writeUInt32LE((seq = (seq + 1) >>> 0), 0);
    const t0 = performance.now();
    void link!.publish(CHANNEL, message).then((n) => {
      hist.record(performance.now() - t0);
      done++;
      if (n !== setup!.subs && errors.length < 5) errors.push(`count ${n}, expected ${setup!.subs}`);
      if (running) publishOne();
    });
  };

  const fromArbiter = (m: RelayToWorker): void => {
    if (m.t === 'ps-count') relay!.counted(m.id, m.n);
    // As WorkerRelay: publish to the arbiter only once told another worker has interest.
    else if (m.t === 'ps-peers' && m.on) send({ t: 'x-linked' });
  };

  process.on('message', (m: Control | RelayToWorker) => {
    if (m.t === 'x-setup') {
      setup = m;
      message = Buffer.alloc(m.size, 0x61);
      if (m.mode === 'direct-unix') {
        const peers = m.paths!.map((path) => createConnection(path));
        let open = 0;
        for (const p of peers) p.once('connect', () => {
          if (++open === peers.length) {
            link = new DirectLink(peers);
            send({ t: 'x-linked' });
          }
        });
        send({ t: 'x-ready' });
      } else {
        const toArbiter = arbiterLink(m, fromArbiter, () => send({ t: 'x-ready' }));
        link = relay = new RelayLink(toArbiter, m.mode !== 'relay-json');
      }
    } else if (m.t === 'x-go') {
      running = true;
      for (let i = 0; i < setup!.window; i++) publishOne();
    } else if (m.t === 'x-mark') {
      hist = new Histogram();
      done = 0;
      markT = performance.now();
      markCpu = process.cpuUsage();
    } else if (m.t === 'x-stop') {
      running = false;
      const cpu = process.cpuUsage(markCpu);
      const s = hist.summaryUs();
      send({ t: 'x-report', cpuUs: cpu.user + cpu.system, done, ms: performance.now() - markT, p50: s.p50, p99: s.p99, errors });
    }
  });
}

// ---- subscriber (B): one subscriber of CHANNEL; checks A's sequence numbers ----

function subscriber(): void {
  let lastSeq = 0;
  let received = 0;
  let markCpu = process.cpuUsage();
  const errors: string[] = [];
  const subscribed = new Set([CHANNEL]);

  /** What Channels.deliverRelayed would do, less the writes to clients (the same in every design). */
  const deliver = (key: string, message: unknown): number => {
    if (!subscribed.has(key)) return 0;
    const bytes = message as Uint8Array;
    const seq = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(0);
    if (seq !== ((lastSeq + 1) >>> 0) && errors.length < 5) errors.push(`sequence ${seq} after ${lastSeq}`);
    lastSeq = seq;
    received++;
    return 1;
  };

  process.on('message', (m: Control | RelayToWorker) => {
    if (m.t === 'x-setup') {
      if (m.mode === 'direct-unix') {
        const server = createServer((socket) => {
          readFrames(socket, (f) => {
            if (f[0] !== PUB) throw new Error(`subscriber: frame type ${f[0]}`);
            const { id, key, msg } = readPub(f);
            socket.write(countFrame(id, deliver(key, msg)));
          });
        });
        server.listen(m.path!, () => send({ t: 'x-ready', path: m.path! }));
      } else {
        const toArbiter = arbiterLink(m, (r) => {
          if (r.t === 'ps-deliver') toArbiter({ t: 'ps-done', id: r.id, n: deliver(r.key, fromWire(r.msg)) });
        }, () => {
          // As Channels.onInterest: the first subscriber of a channel is told to the arbiter.
          toArbiter({ t: 'ps-interest', kind: 'channel', key: CHANNEL, on: true });
          send({ t: 'x-ready' });
        });
      }
    } else if (m.t === 'x-mark') markCpu = process.cpuUsage();
    else if (m.t === 'x-stop') {
      const cpu = process.cpuUsage(markCpu);
      send({ t: 'x-report', cpuUs: cpu.user + cpu.system, done: received, ms: 0, p50: 0, p99: 0, errors });
    }
  });
}

// ---- the arbiter: ArbiterRelay's flow with exact channels, and ipc.ts's check of what a worker sends ----

interface Peer { send(m: RelayToWorker): void }
interface Relayed { origin: Peer; originId: number; waiting: Set<Peer>; n: number }

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
function isWire(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1) return false;
  const [k] = keys;
  const value = (v as Record<string, unknown>)[k!];
  return k === 'j' || ((k === 's' || k === 'b') && (typeof value === 'string' || value instanceof Uint8Array));
}
function checked(m: unknown): RelayFromWorker | undefined {
  if (m === null || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  if (r.t === 'ps-pub') return isCount(r.id) && typeof r.key === 'string' && isWire(r.msg) ? m as RelayFromWorker : undefined;
  if (r.t === 'ps-done') return isCount(r.id) && isCount(r.n) ? m as RelayFromWorker : undefined;
  if (r.t === 'ps-interest') return typeof r.key === 'string' && typeof r.on === 'boolean' ? m as RelayFromWorker : undefined;
  return undefined;
}

class Arbiter {
  private readonly interest = new Map<Peer, { channels: Set<string>; peers: boolean; ready: boolean }>();
  private readonly relayed = new Map<number, Relayed>();
  private nextId = 0;

  joined(peer: Peer): void {
    this.of(peer).ready = true;
    this.updatePeers();
  }
  received(peer: Peer, m: RelayFromWorker): void {
    if (m.t === 'ps-interest') {
      if (m.on) this.of(peer).channels.add(m.key);
      else this.of(peer).channels.delete(m.key);
      this.updatePeers();
    } else if (m.t === 'ps-pub') {
      const waiting = new Set<Peer>();
      for (const [p, i] of this.interest) if (p !== peer && i.ready && i.channels.has(m.key)) waiting.add(p);
      if (waiting.size === 0) return peer.send({ t: 'ps-count', id: m.id, n: 0 });
      const id = ++this.nextId;
      this.relayed.set(id, { origin: peer, originId: m.id, waiting, n: 0 });
      for (const p of waiting) p.send({ t: 'ps-deliver', id, key: m.key, msg: m.msg });
    } else {
      const r = this.relayed.get(m.id);
      if (r !== undefined && r.waiting.delete(peer)) {
        r.n += m.n;
        if (r.waiting.size === 0) {
          this.relayed.delete(m.id);
          r.origin.send({ t: 'ps-count', id: r.originId, n: r.n });
        }
      }
    }
  }
  private of(peer: Peer) {
    let i = this.interest.get(peer);
    if (i === undefined) this.interest.set(peer, (i = { channels: new Set(), peers: false, ready: false }));
    return i;
  }
  private updatePeers(): void {
    let holders = 0;
    for (const i of this.interest.values()) if (i.channels.size > 0) holders++;
    for (const [peer, i] of this.interest) {
      const peers = holders - (i.channels.size > 0 ? 1 : 0) > 0;
      if (i.ready && peers !== i.peers) {
        i.peers = peers;
        peer.send({ t: 'ps-peers', on: peers });
      }
    }
  }
}

// ---- the parent: runs, children, table ----

/** Every child, so that an error or a signal still stops each by its pid. */
const live = new Set<ChildProcess>();
let tempDir: string | undefined;

function killAll(): void {
  for (const c of live) if (c.pid !== undefined) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}
function cleanTemp(): void {
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}

/** A child process and the control messages it sent that nobody has taken yet. */
class Child implements Peer {
  readonly proc: ChildProcess;
  private readonly inbox: Control[] = [];
  private waiter: { t: string; resolve: (m: Control) => void } | undefined;
  /** relay-unix: the worker's socket to the arbiter, for the relay's messages. */
  socket: Socket | undefined;

  constructor(role: 'pub' | 'sub', serialization: 'json' | 'advanced', arbiter: Arbiter) {
    this.proc = fork(SELF, ['--role', role], { serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(this.proc);
    this.proc.once('exit', () => live.delete(this.proc));
    this.proc.on('message', (m: { t?: unknown }) => {
      if (typeof m.t === 'string' && m.t.startsWith('ps-')) {
        const r = checked(m);
        if (r !== undefined) arbiter.received(this, r);
      } else if (this.waiter !== undefined && this.waiter.t === m.t) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(m as Control);
      } else this.inbox.push(m as Control);
    });
  }

  send(m: RelayToWorker | Control): void {
    if (this.socket !== undefined && m.t === 'ps-deliver') this.socket.write(pubFrame(m.id, m.key, (m.msg as { b: Buffer }).b));
    else if (this.socket !== undefined && m.t === 'ps-count') this.socket.write(countFrame(m.id, m.n));
    else this.proc.send(m);
  }
  /** The next control message of type `t` (one waiter at a time; bounded by the run's deadline). */
  next<T extends Control['t']>(t: T): Promise<Extract<Control, { t: T }>> {
    const i = this.inbox.findIndex((m) => m.t === t);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as Extract<Control, { t: T }>);
    return new Promise((resolve) => { this.waiter = { t, resolve: resolve as (m: Control) => void }; });
  }
  /** Stop by pid: SIGTERM, then SIGKILL if it is still there after a second. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    try { process.kill(p.pid, 'SIGTERM'); } catch { return; }
    const timer = setTimeout(() => { try { process.kill(p.pid!, 'SIGKILL'); } catch { /* gone */ } }, 1000);
    await exited;
    clearTimeout(timer);
  }
}

interface RunResult { rate: number; p50: number; p99: number; cpuPub: number; cpuArb: number; cpuSub: number; errors: string[] }

/** relay-unix: the arbiter's socket; each worker's first frame names its pid. */
function arbiterServer(path: string, arbiter: Arbiter, children: Child[]): Promise<Server> {
  const server = createServer((socket) => {
    let child: Child | undefined;
    readFrames(socket, (f) => {
      if (child === undefined) {
        child = children.find((c) => f[0] === HELLO && c.proc.pid === f.readUInt32BE(1));
        if (child === undefined) return socket.destroy();
        child.socket = socket;
        socket.write(countFrame(child.proc.pid!, 0, HELLO));
      } else if (f[0] === PUB) {
        const { id, key, msg } = readPub(f);
        arbiter.received(child, { t: 'ps-pub', id, key, msg: { b: msg } });
      } else if (f[0] === COUNT) arbiter.received(child, { t: 'ps-done', id: f.readUInt32BE(1), n: f.readUInt32BE(5) });
      else socket.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

let runs = 0;

async function runOnce(mode: Mode, subs: number, size: number, o: Options): Promise<RunResult> {
  const arbiter = new Arbiter();
  const serialization = mode === 'relay-advanced' ? 'advanced' : 'json';
  const bs = Array.from({ length: subs }, () => new Child('sub', serialization, arbiter));
  const a = new Child('pub', serialization, arbiter);
  const all = [a, ...bs];
  const arbiterPath = join(tempDir!, `arbiter-${++runs}.sock`);
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${mode} run did not finish within its deadline`)), (o.warmup + o.duration + 20) * 1000);
  });
  const body = async (): Promise<RunResult> => {
    if (mode === 'relay-unix') server = await arbiterServer(arbiterPath, arbiter, all);
    const paths: string[] = [];
    for (const [i, b] of bs.entries()) {
      b.send({ t: 'x-setup', mode, size, window: o.window, subs, path: join(tempDir!, `b${i}-${b.proc.pid}.sock`), arbiter: arbiterPath });
      const r = await b.next('x-ready');
      if (r.path !== undefined) paths.push(r.path);
      arbiter.joined(b);
    }
    a.send({ t: 'x-setup', mode, size, window: o.window, subs, paths, arbiter: arbiterPath });
    await a.next('x-ready');
    arbiter.joined(a);
    await a.next('x-linked');
    a.send({ t: 'x-go' });
    await sleep(o.warmup * 1000);
    for (const c of all) c.send({ t: 'x-mark' });
    const cpu0 = process.cpuUsage();
    await sleep(o.duration * 1000);
    const cpu = process.cpuUsage(cpu0);
    for (const c of all) c.send({ t: 'x-stop' });
    const [ra, ...rbs] = await Promise.all(all.map((c) => c.next('x-report')));
    const n = Math.max(ra!.done, 1);
    return {
      rate: ra!.done / (ra!.ms / 1000), p50: ra!.p50, p99: ra!.p99,
      cpuPub: ra!.cpuUs / n, cpuArb: (cpu.user + cpu.system) / n,
      cpuSub: rbs.reduce((s, r) => s + r.cpuUs, 0) / subs / n,
      errors: [...ra!.errors, ...rbs.flatMap((r) => r.errors)],
    };
  };
  try {
    return await Promise.race([body(), deadline]);
  } finally {
    clearTimeout(timer);
    await Promise.all(all.map((c) => c.stop()));
    server?.close();
  }
}

interface Options { duration: number; warmup: number; window: number; rounds: number; sizes: number[]; subs: number[] }

function options(): Options {
  const { values: v } = parseArgs({
    options: {
      duration: { type: 'string', default: '3' }, warmup: { type: 'string', default: '0.5' },
      size: { type: 'string', default: '64,4096' }, window: { type: 'string', default: '16' },
      rounds: { type: 'string', default: '3' }, subs: { type: 'string', default: '1,2' },
    },
  });
  const list = (s: string) => s.split(',').map(Number);
  const o = {
    duration: Number(v.duration), warmup: Number(v.warmup), window: Number(v.window), rounds: Number(v.rounds),
    sizes: list(v.size), subs: list(v.subs),
  };
  const int = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!(o.duration > 0 && o.duration <= 600) || !(o.warmup >= 0 && o.warmup <= 60) || !int(o.window, 1, 10_000) ||
      !int(o.rounds, 1, 50) || !o.sizes.every((s) => int(s, 4, 16 << 20)) || !o.subs.every((s) => int(s, 1, 8))) {
    console.error('relay-links: --duration (0..600], --warmup [0..60], --window 1..10000, --rounds 1..50, --size 4..16777216[,...], --subs 1..8[,...]');
    process.exit(2);
  }
  return o;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const o = options();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`relay-links: ${sig}, stopping`);
      killAll();
      cleanTemp();
      process.exit(130);
    });
  }
  process.on('exit', () => { killAll(); cleanTemp(); });
  tempDir = mkdtempSync(join(tmpdir(), 'relay-links-'));
  const load0 = loadavg()[0]!;
  const results = new Map<string, RunResult[]>();
  const errors: string[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const subs of o.subs) for (const size of o.sizes) for (const mode of MODES) {
      const r = await runOnce(mode, subs, size, o);
      const key = `${subs}|${size}|${mode}`;
      results.set(key, [...(results.get(key) ?? []), r]);
      errors.push(...r.errors.map((e) => `${mode}, ${subs} sub, ${size} B: ${e}`));
      console.error(`round ${round} subs ${subs} size ${size} ${mode}: ${Math.round(r.rate)}/s p50 ${r.p50} µs p99 ${r.p99} µs ` +
        `cpu µs/pub A ${r.cpuPub.toFixed(1)} arb ${r.cpuArb.toFixed(1)} B ${r.cpuSub.toFixed(1)}${r.errors.length ? ' ERRORS' : ''}`);
    }
  }
  const f1 = (x: number) => x.toFixed(1);
  console.log(`\nrelay-links: window ${o.window}, ${o.duration} s per run (+${o.warmup} s warm-up), ${o.rounds} rounds, medians; ` +
    `node ${process.version}, ${cpus().length} cpus, load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}\n`);
  console.log('| subs | size | mode | publishes/s | vs relay-json | p50 µs | p99 µs | CPU µs/publish: A | arbiter | each B | total | total vs relay-json |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const subs of o.subs) for (const size of o.sizes) {
    let base: { rate: number; total: number } | undefined;
    for (const mode of MODES) {
      const rs = results.get(`${subs}|${size}|${mode}`)!;
      const m = (f: (r: RunResult) => number) => median(rs.map(f));
      const rate = m((r) => r.rate);
      const total = m((r) => r.cpuPub + r.cpuArb + r.cpuSub * subs);
      base ??= { rate, total };
      console.log(`| ${subs} | ${size} | ${mode} | ${Math.round(rate)} | ${(rate / base.rate).toFixed(2)} | ${f1(m((r) => r.p50))} | ${f1(m((r) => r.p99))} | ` +
        `${f1(m((r) => r.cpuPub))} | ${f1(m((r) => r.cpuArb))} | ${f1(m((r) => r.cpuSub))} | ${f1(total)} | ${(total / base.total).toFixed(2)} |`);
    }
  }
  if (errors.length > 0) {
    console.error(`\nrelay-links: ${errors.length} wrong counts or orders:\n  ${errors.slice(0, 20).join('\n  ')}`);
    process.exitCode = 1;
  }
}

const role = process.argv[2] === '--role' ? process.argv[3] : undefined;
if (role !== undefined) {
  // A child: it goes with its parent.
  process.on('disconnect', () => process.exit(0));
  if (role === 'pub') publisher();
  else if (role === 'sub') subscriber();
  else process.exit(2);
} else {
  main().then(() => {
    killAll();
    cleanTemp();
  }, (err: unknown) => {
    console.error(`relay-links: ${err instanceof Error ? err.stack : String(err)}`);
    killAll();
    cleanTemp();
    process.exit(1);
  });
}
