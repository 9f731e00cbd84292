// The bystander's loop, in a thread of its own: the attack's work in the main thread (building
// and writing hundreds of MiB) must not count against the server's latency.
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import type { BystanderResult, BystanderSpec, StreamSpec } from './bystander.js';

const INTERVAL_MS = 100;
/** How long a reply is waited for before the request counts as failed. */
const REPLY_WAIT_MS = 5000;
/** Tries at landing on another worker than `avoidPid`'s. */
const WORKER_TRIES = 200;

const spec = workerData as BystanderSpec;
const result: BystanderResult = { replies: 0, maxMs: 0, failures: 0, firstFailure: undefined };
let stopping = false;
parentPort!.on('message', (m: string) => { if (m === 'stop') stopping = true; });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A connection that hands out what it received, waited for with a time limit. */
class Conn {
  private got = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closed: string | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => { this.got = Buffer.concat([this.got, b]); this.wake?.(); });
    socket.on('error', (err) => { this.closed ??= err.message; this.wake?.(); });
    socket.on('close', () => { this.closed ??= 'closed by the server'; this.wake?.(); });
  }

  static open(s: StreamSpec): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const where = s.path !== undefined ? { path: s.path } : { host: s.host ?? '127.0.0.1', port: s.port!, localAddress: s.localAddress };
      const socket = s.tls ? connectTls({ ...where, rejectUnauthorized: false }) : connect(where);
      const timer = setTimeout(() => { socket.destroy(); reject(new Error('connect timed out')); }, REPLY_WAIT_MS);
      socket.once(s.tls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); socket.setNoDelay(true); resolve(new Conn(socket)); });
      socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  /** The next `n` bytes, or what ends with `\n` when n is 0. */
  async take(n: number, timeoutMs: number): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const end = n > 0 ? (this.got.length >= n ? n : -1) : this.got.indexOf(10) + 1 || -1;
      if (end > 0) {
        const out = this.got.subarray(0, end);
        this.got = this.got.subarray(end);
        return out;
      }
      if (this.closed !== undefined) throw new Error(this.closed);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs / 1000} s`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.wake = () => { clearTimeout(timer); r(); };
      });
    }
  }
}

/** A connection with the preface sent, on another worker than `avoidPid` when given. */
async function openStream(s: StreamSpec): Promise<Conn> {
  for (let i = 0; i < WORKER_TRIES; i++) {
    const c = await Conn.open(s);
    if (s.preface) c.socket.write(s.preface);
    if (s.avoidPid === undefined) return c;
    c.socket.write('pid\n');
    const pid = Number((await c.take(0, REPLY_WAIT_MS)).toString().trim());
    if (pid !== s.avoidPid) return c;
    c.socket.destroy();
  }
  throw new Error(`no connection to a worker other than ${s.avoidPid} in ${WORKER_TRIES} tries`);
}

let conn: Conn | undefined;

async function streamRequest(s: StreamSpec): Promise<void> {
  if (conn === undefined) conn = await openStream(s);
  const c = conn;
  try {
    c.socket.write(s.request);
    const got = await c.take(s.reply.length, REPLY_WAIT_MS);
    if (!got.equals(Buffer.from(s.reply))) throw new Error(`wrong reply ${JSON.stringify(got.toString('latin1').slice(0, 80))}`);
  } finally {
    if (s.fresh) { c.socket.destroy(); conn = undefined; }
  }
}

function scrape(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: REPLY_WAIT_MS }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REPLY_WAIT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

async function once(): Promise<void> {
  if (spec.kind === 'http') await scrape(spec.url);
  else await streamRequest(spec);
}

// The first request is the check that the bystander is in place: its time is not counted.
try {
  await once();
  parentPort!.postMessage({ started: true });
} catch (err) {
  parentPort!.postMessage({ started: false, error: (err as Error).message });
  process.exit(0);
}
while (!stopping) {
  const t0 = performance.now();
  try {
    await once();
    result.replies++;
  } catch (err) {
    result.failures++;
    result.firstFailure ??= (err as Error).message;
    conn?.socket.destroy();
    conn = undefined;
  }
  const took = performance.now() - t0;
  result.maxMs = Math.max(result.maxMs, took);
  await sleep(Math.max(0, INTERVAL_MS - took));
}
conn?.socket.destroy();
parentPort!.postMessage({ result });
