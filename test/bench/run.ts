// `npm run bench`: ss against the hand-written baseline server, side by side.
//
//   npm run bench -- [--duration 3] [--warmup 1] [--rounds 3] [--only line-p1,idle-memory]
//
// The redis-* workloads run redis-benchmark (-t set,get, 50 connections) against `ss serve
// --plugin resp` at its defaults (arbiter + 1 worker) with a Map store, and against a real
// redis-server; skipped, with a note, when redis-benchmark or redis-server is missing.
//
// The metrics workload runs ss with --plugin metrics against ss without it (line 64 B,
// pipeline 16 and 1, ss scraped once a second during the run): the per-request cost of the plugin.
//
// The fanout workloads run fanout.js (pub/sub: 50 subscribers of one channel, 1 publisher keeping
// 16 PUBLISH in flight, 64 B payloads, every delivery checked) against `ss serve --plugin resp
// --plugin kv` and a real redis-server: messages delivered per second and p99 publish → delivery.
// fanout uses ss's defaults (arbiter + 1 worker); fanout-w2 `--workers 2` (the subscribers spread
// over both; their count per worker is logged once), reported with no target. Skipped, with a
// note, when redis-server is missing.
//
// The ws-* workloads run `ss serve --plugin websocket` against ws-baseline.js, a hand-written
// server on the `ws` package (no compression), both single processes' worth of serving (ss at its
// defaults: arbiter + 1 worker). ws-echo: ws-echo.js, 50 connections each keeping 16 text
// messages of 64 B in flight, ss echoing (no handler) against ws echoing each message; messages
// per second. ws-fanout: fanout.js --proto websocket, 50 subscribers and 1 publisher keeping 16
// in flight, ss with ws-fanout-handler.mjs (a channel) against ws sending each message to every
// subscriber by hand; deliveries per second. Every reply and delivery is checked.
//
// The udp-* workloads run udp-echo.js (16 sockets in two worker threads, each keeping 8 datagrams
// of 64 B in flight, every reply checked, a loss re-sent after 100 ms) against `ss serve --plugin
// echo --bind udp://127.0.0.1:0` and udp-baseline.js, a hand-written node:dgram echo server:
// datagrams per second. udp-echo: ss at its defaults (arbiter + 1 worker) against one process;
// udp-echo-workers: ss --workers 2 against the baseline in 2 node:cluster workers (which read one
// shared socket; ss's workers too on Node 20, each its own socket in the port's SO_REUSEPORT group on
// Node >= 22.12). Lost datagrams are counted and printed (a warning over 1%), not failures.
//
// The push-line workload runs loadgen (line 64 B, pipeline 16) against ss with a handler that
// answers every request with a push (connection.send, no reply) and ss with one that replies:
// what a push costs against a reply.
//
// The cluster-* workloads run `ss serve --workers 2` against cluster-baseline (node:cluster,
// 2 workers); connects-w1 and connects-w2 run `ss serve --workers 1` and `--workers 2` against
// the single-process baseline-server. A server's CPU is that of its whole process tree (arbiter
// and workers).
//
// Noise on this machine is about ±10% and client and server share its cores, so each
// workload runs ss and the baseline alternately (A B A B ...), each run on a fresh
// server process, and reports medians and ratios. Exit 1 if any run saw a wrong reply,
// a dropped connection or an unanswered request; missed performance targets only print
// "not met".
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts, type Certs } from '../helpers/certs.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ssInfo, startSs } from '../helpers/ss.js';
import { udpPort } from '../helpers/udp.js';
import { available, freePort, redisBenchmark, startRedis, type RedisResult } from './redis.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    // ss --balance for the cluster workloads (default: ss's own choice for this Node).
    balance: { type: 'string' },
  },
});
const duration = Number(opt.duration);
const warmup = Number(opt.warmup);
const rounds = Number(opt.rounds);
if (!(duration > 0 && duration <= 600) || !(warmup >= 0 && warmup <= 600) || !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 50)) {
  console.error('bench: --duration (0..600], --warmup [0..600], --rounds 1..50');
  process.exit(2);
}

/**
 * `workers`: server processes (ss --workers, cluster-baseline); 0 or absent: one process.
 * `baselineWorkers`: the baseline's, when not the same (0: the single-process baseline-server).
 */
interface SocketWorkload {
  name: string; title: string; proto: string; pipeline: number; size: number; workers?: number; baselineWorkers?: number; tls?: boolean;
  /** More arguments for ss; with `baselineSs` the baseline is ss without them (or with `baselineArgs`). */
  ssArgs?: string[]; baselineSs?: boolean; baselineArgs?: string[];
  /** The baseline is a real redis-server. */
  redisBaseline?: boolean;
  /** Datagrams: ss binds udp://127.0.0.1:0, the baseline is udp-baseline.js (node:dgram). */
  udp?: boolean;
  /** The baseline is ws-baseline.js in this mode (the `ws` package). */
  wsBaseline?: 'echo' | 'broadcast';
  /** Log, once, how many subscribers each ss worker has (ss info) when fanout.js says all are subscribed. */
  subscribersPerWorker?: boolean;
  /** GET ss's /metrics once a second while the load runs (the URL it logs as `metrics`). */
  scrape?: boolean;
  /** Lowest ratio to the baseline met (default 0.90); null: reported, no target. */
  target?: number | null;
}
const SOCKET_WORKLOADS: SocketWorkload[] = [
  { name: 'line-p1', title: 'line 64 B, pipeline 1', proto: 'line', pipeline: 1, size: 64 },
  { name: 'line-p16', title: 'line 64 B, pipeline 16', proto: 'line', pipeline: 16, size: 64 },
  { name: 'netstring-p1', title: 'netstring 64 B, pipeline 1', proto: 'netstring', pipeline: 1, size: 64 },
  { name: 'echo-16k', title: 'echo 16 KiB, pipeline 1', proto: 'echo', pipeline: 1, size: 16384 },
  // TLS (ss --certfile/--keyfile against a node:tls server with the same per-connection code).
  { name: 'tls-line-p1', title: 'TLS line 64 B, pipeline 1', proto: 'line', pipeline: 1, size: 64, tls: true },
  { name: 'tls-line-p16', title: 'TLS line 64 B, pipeline 16', proto: 'line', pipeline: 16, size: 64, tls: true },
];
/** `--only metrics`: the metrics plugin's cost, ss with it against ss without it. */
const METRICS_WORKLOADS: SocketWorkload[] = [16, 1].map((pipeline) => ({
  name: 'metrics', title: `line 64 B, pipeline ${pipeline}, ss --plugin metrics vs ss without it`, proto: 'line', pipeline, size: 64,
  ssArgs: ['--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0'], baselineSs: true, target: 0.95, scrape: true,
}));
const CLUSTER_WORKERS = 2;
const CLUSTER_WORKLOADS: SocketWorkload[] = [
  { name: 'cluster-line-p1', title: `line 64 B, pipeline 1, ${CLUSTER_WORKERS} workers`, proto: 'line', pipeline: 1, size: 64, workers: CLUSTER_WORKERS },
  { name: 'cluster-line-p16', title: `line 64 B, pipeline 16, ${CLUSTER_WORKERS} workers`, proto: 'line', pipeline: 16, size: 64, workers: CLUSTER_WORKERS },
];
/** Connect, one 64 B line request, close: connections served per second. */
const CONNECTS: SocketWorkload = {
  name: 'cluster-connects', title: `line 64 B, connect + 1 request + close, ${CLUSTER_WORKERS} workers`, proto: 'line', pipeline: 1, size: 64,
  workers: CLUSTER_WORKERS,
};
/** Connect rate of ss with 1 and 2 workers against the single-process hand-written server. */
const SINGLE_CONNECTS: SocketWorkload[] = [1, 2].map((workers) => ({
  name: `connects-w${workers}`, title: `line 64 B, connect + 1 request + close, ss ${workers} worker${workers > 1 ? 's' : ''} vs one process`,
  proto: 'line', pipeline: 1, size: 64, workers, baselineWorkers: 0,
}));
/**
 * redis-benchmark -t set,get: pipeline, requests per test (a few seconds each), target ratio to
 * redis-server. `kv`: ss serves the kv plugin (what users run) rather than the bench's Map store,
 * and the hand-written reference (which has only that store) is left out.
 */
interface RedisWorkload { name: string; pipeline: number; requests: number; target: number | null; kv?: boolean }
const REDIS_WORKLOADS: RedisWorkload[] = [
  { name: 'redis-p1', pipeline: 1, requests: 100_000, target: 0.95 },
  { name: 'redis-p16', pipeline: 16, requests: 1_000_000, target: 0.8 },
  // What users run, with expiry, LRU and the command families: a reference beside the Map store, no target.
  { name: 'kv-p1', pipeline: 1, requests: 100_000, target: null, kv: true },
  { name: 'kv-p16', pipeline: 16, requests: 1_000_000, target: null, kv: true },
];
/** Pub/sub fan-out (fanout.js): ss (resp + kv) against redis-server, 1 and 2 workers. */
const FANOUT_SUBSCRIBERS = 50;
const FANOUT_WORKLOADS: SocketWorkload[] = [
  { name: 'fanout', title: `pub/sub fan-out, ${FANOUT_SUBSCRIBERS} subscribers, 1 publisher, depth 16, 64 B, vs redis-server`, proto: 'resp', pipeline: 16, size: 64,
    ssArgs: ['--plugin', 'kv'], redisBaseline: true, target: 0.8 },
  { name: 'fanout-w2', title: `  the same, ss --workers 2`, proto: 'resp', pipeline: 16, size: 64,
    workers: 2, ssArgs: ['--plugin', 'kv'], redisBaseline: true, target: null, subscribersPerWorker: true },
];
/** WebSocket (ss --plugin websocket) against a hand-written server on the `ws` package. */
const WS_WORKLOADS: SocketWorkload[] = [
  { name: 'ws-echo', title: 'WebSocket echo, 64 B text, pipeline 16, vs ws', proto: 'websocket', pipeline: 16, size: 64, wsBaseline: 'echo', target: 1.0 },
  { name: 'ws-fanout', title: `WebSocket fan-out, ${FANOUT_SUBSCRIBERS} subscribers, 1 publisher, depth 16, 64 B text, vs ws by hand`, proto: 'websocket',
    pipeline: 16, size: 64, ssArgs: ['--handler', './test/bench/ws-fanout-handler.mjs'], wsBaseline: 'broadcast', target: 1.0 },
];
/** UDP echo (ss --plugin echo on a udp:// bind) against a hand-written node:dgram server; `pipeline`: datagrams in flight per socket. */
const UDP_SOCKETS = 16;
const UDP_THREADS = 2;
const UDP_WORKLOADS: SocketWorkload[] = [
  { name: 'udp-echo', title: `UDP echo, 64 B datagrams, ${UDP_SOCKETS} sockets × 8 in flight, vs node:dgram`, proto: 'echo', pipeline: 8, size: 64,
    udp: true, target: 0.9 },
  { name: 'udp-echo-workers', title: `  the same, ss --workers 2 vs node:dgram in 2 node:cluster workers`, proto: 'echo', pipeline: 8, size: 64,
    udp: true, workers: 2, target: 0.9 },
];
/** A push per request (connection.send, no reply) against a reply per request: ss against ss. */
const PUSH_LINE: SocketWorkload = {
  name: 'push-line', title: 'line 64 B, pipeline 16, a push per request vs a reply (ss vs ss)', proto: 'line', pipeline: 16, size: 64,
  ssArgs: ['--handler', './test/bench/push-handler.mjs'], baselineSs: true, baselineArgs: ['--handler', './test/bench/reply-handler.mjs'], target: 0.9,
};
const NAMES = ['netstring-64m', ...SOCKET_WORKLOADS.map((w) => w.name), 'metrics', PUSH_LINE.name, ...REDIS_WORKLOADS.map((w) => w.name),
  ...FANOUT_WORKLOADS.map((w) => w.name), ...WS_WORKLOADS.map((w) => w.name), ...UDP_WORKLOADS.map((w) => w.name), 'idle-memory', 'worker-memory', 'log-format', ...CLUSTER_WORKLOADS.map((w) => w.name), CONNECTS.name,
  ...SINGLE_CONNECTS.map((w) => w.name)];
const only = opt.only ? opt.only.split(',').map((s) => s.trim()).filter(Boolean) : NAMES;
for (const n of only) {
  if (!NAMES.includes(n)) {
    console.error(`bench: unknown workload "${n}"; one of ${NAMES.join(', ')}`);
    process.exit(2);
  }
}

const CONNS = 50;
const CONNECT_LOOPS = 50;
const IDLE_CONNS = 10_000;

// ---- child processes: every one is tracked and stopped by its pid, whatever happens ----

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
// Processes our children started (workers): pid -> start time, so a reused pid is never signalled.
const descendants = new Map<number, string>();
function killAll(signal: NodeJS.Signals): void {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try { process.kill(c.pid, signal); } catch { /* already gone */ }
  }
  for (const [pid, start] of descendants) if (running(pid, start)) {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}
let interrupted = false;
process.on('exit', () => killAll('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = true;
    console.error(`bench: ${sig}, stopping`);
    killAll('SIGTERM');
    setTimeout(() => process.exit(130), 500);
  });
}

/** A throwaway certificate for the TLS workloads, made with openssl on first use, removed at exit. */
let madeCerts: Certs | undefined;
function certs(): Certs {
  if (madeCerts === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'ss-bench-tls-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    madeCerts = makeCerts(dir);
  }
  return madeCerts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** SIGTERM by pid, SIGKILL after 3 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000);
  await exited(child);
  clearTimeout(timer);
}

/** Run `node FILE ARGS` to completion (killed after `capMs`); the last stdout line as JSON. */
async function runNode(file: string, args: string[], capMs: number, nodeArgs: string[] = [],
  onStderr?: (text: string) => void): Promise<Record<string, any>> {
  const child = track(spawn(process.execPath, [...nodeArgs, HERE + file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; onStderr?.(err); });
  const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, capMs);
  await exited(child);
  clearTimeout(timer);
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, any>;
  } catch {
    throw new Error(`${file} ${args.join(' ')} exited ${child.exitCode ?? child.signalCode} without a result\n${err}`);
  }
}

/**
 * `pid` is the process we started (and stop); `servingPid` the one that says it serves (its
 * memory is measured); CPU is measured over `pid` and all its descendants.
 */
interface BenchServer { name: 'ss' | 'baseline'; pid: number; servingPid: number; port: number; child: ChildProcess; metricsUrl?: string }

async function startServer(name: BenchServer['name'], proto: string, ssArgs: string[] = [], workers = 0, tls = false, udp = false): Promise<BenchServer> {
  if (name === 'ss') {
    if (udp) ssArgs = [...ssArgs, '--bind', 'udp://127.0.0.1:0'];
    // Default log level: `startSs` waits for the info-level "serving" line; nothing is logged per request.
    // With --workers the arbiter logs it once every worker is ready.
    const cluster = workers > 0 ? ['--workers', String(workers), ...(opt.balance ? ['--balance', opt.balance] : [])] : [];
    const ss = await startSs(['--plugin', proto, ...cluster, ...ssArgs, ...(tls ? ['--certfile', certs().serverCert, '--keyfile', certs().serverKey] : [])]);
    track(ss.child);
    // An arbiter's "serving" line lists its workers' pids: with one worker, that worker serves.
    const line = ss.logs.find((l) => l.msg.startsWith('serving '));
    const pids = line?.pids;
    const serving = Array.isArray(pids) && pids.length === 1 ? pids[0] : line?.pid;
    rememberTree(ss.pid);
    const metricsUrl = ss.logs.find((l) => typeof l.metrics === 'string')?.metrics as string | undefined;
    return { name, pid: ss.pid, servingPid: typeof serving === 'number' ? serving : ss.pid, port: udp ? udpPort(ss) : ss.port, child: ss.child, metricsUrl };
  }
  if (tls && workers > 0) throw new Error('bench: no TLS cluster baseline');
  const argv = udp ? [HERE + 'udp-baseline.js', String(workers), '0']
    : workers > 0 ? [HERE + 'cluster-baseline.js', proto, String(workers), '0']
    : [HERE + 'baseline-server.js', proto, '0', ...(tls ? [certs().serverCert, certs().serverKey] : [])];
  const child = track(spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await listeningPort(child);
  rememberTree(child.pid!);
  return { name, pid: child.pid!, servingPid: child.pid!, port, child };
}

/** A real redis-server (no persistence) on a free loopback port. */
async function startRedisServer(): Promise<BenchServer> {
  const port = await freePort();
  const child = track(await startRedis(port));
  rememberTree(child.pid!);
  return { name: 'baseline', pid: child.pid!, servingPid: child.pid!, port, child };
}

/** ws-baseline.js (the `ws` package) in `mode` on a free loopback port. */
async function startWsBaseline(mode: 'echo' | 'broadcast'): Promise<BenchServer> {
  const child = track(spawn(process.execPath, [HERE + 'ws-baseline.js', mode, '0'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await listeningPort(child);
  rememberTree(child.pid!);
  return { name: 'baseline', pid: child.pid!, servingPid: child.pid!, port, child };
}

/** The port a reference server prints (`listening 127.0.0.1:PORT`) once it listens. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('reference server did not start within 10 s')), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.once('exit', () => { clearTimeout(timer); reject(new Error('reference server exited at start')); });
  });
}

/** Note the processes under `root` (a server we started), so that none is left running whatever happens. */
function rememberTree(root: number): void {
  for (const pid of processTree(root)) if (pid !== root) descendants.set(pid, startTime(pid) ?? '');
}

/** Stop a server we started, and make sure none of its processes (workers) outlives it. */
async function stopServer(server: BenchServer): Promise<void> {
  rememberTree(server.pid); // workers may have been replaced since it started
  await stopProcess(server.child);
  // Its workers exit with it (or shortly after, once they see it gone); SIGKILL what is left after 3 s.
  const until = Date.now() + 3000;
  const left = () => [...descendants].filter(([pid, start]) => running(pid, start));
  while (left().length > 0 && Date.now() < until) await sleep(50);
  for (const [pid] of left()) {
    console.error(`bench: process ${pid} outlived its server ${server.pid}: SIGKILL`);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  descendants.clear();
}

/** Resident set of one process, in KiB. */
function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

const TICK_MS = 10; // USER_HZ = 100 on Linux
/** CPU time (ms) all CPUs spent busy since boot, from /proc/stat. */
function machineCpuMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) * TICK_MS; // all but idle and iowait
}
/** Fields of /proc/PID/stat after the command name (f[0] is the state), or undefined if it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
/** Start time of a process (ticks since boot, as text): with its pid, names it uniquely. */
function startTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}
/** Whether the process `pid` that started at `start` still runs (not gone, not a zombie). */
function running(pid: number, start: string): boolean {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z' && f[19] === start;
}
/** `root` and all its descendants, found by scanning /proc for parent pids (no /proc/PID/task/TID/children here). */
function processTree(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (!(ppid > 0)) continue;
    const list = kids.get(ppid);
    if (list) list.push(Number(name));
    else kids.set(ppid, [Number(name)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(kids.get(tree[i]!) ?? []));
  return tree;
}
/**
 * CPU time (ms) a process tree has used, from /proc/PID/stat: utime + stime of each
 * process, plus cutime + cstime (its children that exited and were reaped, whose own
 * entries are gone). For a server: its one process, or its arbiter and workers.
 */
function serverCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks * TICK_MS;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

// ---- workloads ----

interface Row { workload: string; ss: string; baseline: string; ratio: number; ssP99: string; baseP99: string; target: string; met: boolean }
const rows: Row[] = [];
const failures: string[] = [];

const fmtRate = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`);
const fmtMs = (us: number) => `${(us / 1000).toFixed(2)} ms`;

// Client and server already share the cores: anything else running skews the numbers.
const MAX_FOREIGN = 0.25; // cores
const RETRIES = 2;
const warnings: string[] = [];

/** Wait (at most `maxMs`) until other processes leave the CPUs mostly idle; none of ours runs now. */
async function waitQuiet(maxMs: number, name?: string): Promise<void> {
  const until = Date.now() + maxMs;
  let busy = 0;
  do {
    const a = machineCpuMs();
    await sleep(500);
    busy = (machineCpuMs() - a) / 500;
  } while (busy > 0.15 && Date.now() < until);
  if (busy > 0.15 && name) {
    warnings.push(`before ${name}: CPUs ${Math.round(busy * 100)}% busy with other processes; its numbers may be noisy`);
    console.error(`bench: warning: ${warnings.at(-1)}`);
  }
}

/**
 * One run: fresh server, a load generator (`client`: loadgen.js or connect-rate.js) against it,
 * server stopped. `foreign`: cores other processes used meanwhile; `serverCores`: the server's own in the measured window.
 */
async function measure(w: SocketWorkload, name: BenchServer['name'], args: string[], client = 'loadgen.js'): Promise<{ res: Record<string, any>; foreign: number; serverCores: number }> {
  const server = name === 'baseline' && w.redisBaseline ? await startRedisServer()
    : name === 'baseline' && w.wsBaseline ? await startWsBaseline(w.wsBaseline)
    : await startServer(name === 'baseline' && w.baselineSs ? 'ss' : name, w.proto, name === 'ss' ? w.ssArgs : w.baselineArgs,
      (name === 'baseline' ? w.baselineWorkers : undefined) ?? w.workers ?? 0, w.tls, w.udp);
  let probe: Promise<void> | undefined;
  const onStderr = w.subscribersPerWorker && name === 'ss' && !subscribersLogged ? (text: string) => {
    if (probe === undefined && text.includes('fanout: subscribed')) probe = logSubscribersPerWorker(w, server);
  } : undefined;
  try {
    await sleep(300); // let start-up work (JIT, GC of boot garbage) settle
    const t0 = Date.now();
    const m0 = machineCpuMs();
    const s0 = serverCpuMs(server.pid);
    const scraper = w.scrape && name === 'ss' ? scrapeEverySecond(server) : undefined;
    // The server's CPU within the measured window (give or take the client's start-up: sampled from 0.3 s into it).
    const sampled: [number, number][] = [];
    const sample = () => sampled.push([Date.now(), serverCpuMs(server.pid)]);
    const timers = [setTimeout(sample, (warmup + 0.3) * 1000), setTimeout(sample, (warmup + duration) * 1000)];
    const res = await runNode(client, [...args, '--port', String(server.port)], (warmup + duration + 35) * 1000, [], onStderr)
      .finally(() => { scraper?.stop(); for (const t of timers) clearTimeout(t); });
    await probe;
    if (scraper) console.error(`  ${w.name}: ${scraper.count()} scrapes of ${server.metricsUrl} during the run`);
    // Machine CPU not used by this server or this loadgen (kernel network work on otherwise
    // idle CPUs lands here too, but only a few % of a core).
    const foreign = (machineCpuMs() - m0 - (serverCpuMs(server.pid) - s0) - res.cpu_ms) / (Date.now() - t0);
    const [a, b] = sampled;
    return { res, foreign, serverCores: a && b && b[0] > a[0] ? (b[1] - a[1]) / (b[0] - a[0]) : NaN };
  } finally {
    await stopServer(server);
  }
}

let subscribersLogged = false;
/** How many subscribers each worker of `server` (ss) holds, from `ss info --json`: logged, and a warning if one worker has none. */
async function logSubscribersPerWorker(w: SocketWorkload, server: BenchServer): Promise<void> {
  subscribersLogged = true;
  try {
    const info = await ssInfo(server.pid);
    const counts = (info.workers as { id: number; stats?: { pubsub?: { subscribers?: number } } }[])
      .map((x) => `worker ${x.id}: ${x.stats?.pubsub?.subscribers ?? '?'}`);
    console.error(`  ${w.name}: subscribers per worker (ss info): ${counts.join(', ')}`);
    if (counts.some((c) => c.endsWith(': 0'))) warnings.push(`${w.name}: a worker had no subscribers (${counts.join(', ')})`);
  } catch (err) {
    warnings.push(`${w.name}: ss info failed: ${(err as Error).message}`);
  }
}

/** GET the server's /metrics once a second (as a busy Prometheus would, more often than its 15 s default) until stopped. */
function scrapeEverySecond(server: BenchServer): { stop: () => void; count: () => number } {
  if (!server.metricsUrl) throw new Error('bench: ss logged no metrics URL');
  let scrapes = 0;
  const timer = setInterval(() => {
    void fetch(server.metricsUrl!).then(async (r) => {
      if (!r.ok) throw new Error(`bench: /metrics answered ${r.status}`);
      await r.text();
      scrapes++;
    });
  }, 1000);
  return { stop: () => clearInterval(timer), count: () => scrapes };
}

/** `measure`, redone (a bounded number of times, once things are quiet) while other processes disturb it. */
async function measureUndisturbed(w: SocketWorkload, name: BenchServer['name'], args: string[], label: string, client?: string) {
  let run = await measure(w, name, args, client);
  // Other processes on the machine (tests, builds) skew a run: redo it once things are quiet, a bounded number of times.
  for (let retry = 0; run.foreign > MAX_FOREIGN && retry < RETRIES; retry++) {
    console.error(`  ${label} disturbed (${run.foreign.toFixed(2)} cores used by other processes): again`);
    await waitQuiet(30_000);
    run = await measure(w, name, args, client);
  }
  if (run.foreign > MAX_FOREIGN) warnings.push(`${label.trim()}: ${run.foreign.toFixed(2)} cores used by other processes during the run`);
  return run;
}

/** What one load-generator run reports, read the same way for every client. */
interface Reading { rate: number; p99: number; bad: number; ok: boolean }

/**
 * Run `w` on ss and the baseline alternately for every round, and add a row of medians:
 * `unit` per second, target (default ≥ 0.90) of the baseline.
 */
async function alternate(w: SocketWorkload, title: string, unit: string, args: string[], read: (res: Record<string, any>) => Reading, client?: string,
  extra: (res: Record<string, any>) => string = () => ''): Promise<void> {
  const got: Record<BenchServer['name'], { rate: number[]; p99: number[] }> = { ss: { rate: [], p99: [] }, baseline: { rate: [], p99: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const name of ['ss', 'baseline'] as const) {
      const label = `${w.name} round ${r + 1} ${(name === 'baseline' && w.redisBaseline ? 'redis' : name === 'baseline' && w.wsBaseline ? 'ws' : name).padEnd(8)}`;
      const { res, foreign, serverCores } = await measureUndisturbed(w, name, args, label, client);
      const { rate, p99, bad, ok } = read(res);
      if (bad > 0 || !ok) failures.push(`${label.trim()}: ${JSON.stringify(res)}`);
      got[name].rate.push(rate);
      got[name].p99.push(p99);
      console.error(`  ${label} ${fmtRate(rate).padStart(7)} ${unit}/s  p50 ${fmtMs(res.latency_us.p50)}  p99 ${fmtMs(p99)}` +
        `${extra(res)}  (server ${serverCores.toFixed(2)} cores, other load ${foreign.toFixed(2)} cores)${bad ? `  ERRORS ${bad}` : ''}`);
    }
  }
  const ss = median(got.ss.rate);
  const base = median(got.baseline.rate);
  const ratio = ss / base;
  const target = w.target === undefined ? 0.9 : w.target;
  rows.push({ workload: title, ss: `${fmtRate(ss)} ${unit}/s`, baseline: `${fmtRate(base)} ${unit}/s`, ratio,
    ssP99: fmtMs(median(got.ss.p99)), baseP99: fmtMs(median(got.baseline.p99)),
    target: target === null ? '-' : `≥ ${target.toFixed(2)}`, met: target === null || ratio >= target });
}

function socketWorkload(w: SocketWorkload): Promise<void> {
  const args = ['--proto', w.proto, '--conns', String(CONNS), '--pipeline', String(w.pipeline), '--size', String(w.size),
    '--warmup', String(warmup), '--duration', String(duration), ...(w.tls ? ['--tls'] : [])];
  return alternate(w, w.title, 'req', args, (res) => ({
    rate: res.rps, p99: res.latency_us.p99,
    bad: res.mismatches + res.proto_errors + res.conn_errors + res.closes + res.stalled,
    ok: res.established === CONNS && res.requests > 0,
  }));
}

/**
 * Messages delivered per second through one channel (fanout.js), ss against redis-server; each
 * run's published rate and the generator's own CPU are printed with it.
 */
function fanoutWorkload(w: SocketWorkload): Promise<void> {
  if (!available('redis-server')) {
    redisSkipped.push(`${w.name} skipped: redis-server not found`);
    console.error(`bench: ${redisSkipped.at(-1)}`);
    return Promise.resolve();
  }
  const args = ['--subscribers', String(FANOUT_SUBSCRIBERS), '--publishers', '1', '--depth', String(w.pipeline), '--size', String(w.size),
    '--warmup', String(warmup), '--duration', String(duration)];
  return alternate(w, w.title, 'msg', args, (res) => ({
    rate: res.delivered_per_s, p99: res.latency_us.p99,
    bad: res.errors + res.lost + (res.setup_error === null ? 0 : 1),
    ok: res.subscribed === FANOUT_SUBSCRIBERS && res.delivered_total > 0,
  }), 'fanout.js', (res) => `  (${fmtRate(res.published_per_s)} pub/s, generator ${res.client_cpu.cores} cores)`);
}

/** Messages echoed per second over WebSocket (ws-echo.js), ss against the `ws` package; the generator's CPU printed with each run. */
function wsEchoWorkload(w: SocketWorkload): Promise<void> {
  const args = ['--conns', String(CONNS), '--pipeline', String(w.pipeline), '--size', String(w.size),
    '--warmup', String(warmup), '--duration', String(duration)];
  return alternate(w, w.title, 'msg', args, (res) => ({
    rate: res.rps, p99: res.latency_us.p99,
    bad: res.handshake_errors + res.mismatches + res.proto_errors + res.conn_errors + res.closes + res.stalled,
    ok: res.established === CONNS && res.requests > 0,
  }), 'ws-echo.js', (res) => `  (generator ${res.client_cpu.cores} cores)`);
}

/** WebSocket deliveries per second through one channel (fanout.js --proto websocket), ss against the `ws` package broadcasting by hand. */
function wsFanoutWorkload(w: SocketWorkload): Promise<void> {
  const args = ['--proto', 'websocket', '--subscribers', String(FANOUT_SUBSCRIBERS), '--publishers', '1', '--depth', String(w.pipeline),
    '--size', String(w.size), '--warmup', String(warmup), '--duration', String(duration)];
  return alternate(w, w.title, 'msg', args, (res) => ({
    rate: res.delivered_per_s, p99: res.latency_us.p99,
    bad: res.errors + res.lost + (res.setup_error === null ? 0 : 1),
    ok: res.subscribed === FANOUT_SUBSCRIBERS && res.delivered_total > 0,
  }), 'fanout.js', (res) => `  (${fmtRate(res.published_per_s)} pub/s, generator ${res.client_cpu.cores} cores)`);
}

/**
 * Datagrams echoed per second (udp-echo.js), ss against node:dgram; each run's losses and the
 * generator's CPU are printed with it. Losses are UDP's (a full socket buffer drops): counted and
 * warned of, not failures; a wrong reply is.
 */
function udpEchoWorkload(w: SocketWorkload): Promise<void> {
  const args = ['--sockets', String(UDP_SOCKETS), '--window', String(w.pipeline), '--size', String(w.size), '--threads', String(UDP_THREADS),
    '--warmup', String(warmup), '--duration', String(duration)];
  if (!notes.some((n) => n.startsWith('udp-'))) {
    notes.push(`udp-*: the load generator (${UDP_THREADS} threads) and the server share this machine's ${availableParallelism()} cores`);
  }
  return alternate(w, w.title, 'dgram', args, (res) => {
    if (res.loss > 0.01) warnings.push(`${w.name}: ${res.lost} of ${res.sent_total} datagrams lost (${(res.loss * 100).toFixed(1)}%)`);
    return {
      rate: res.dps, p99: res.latency_us.p99,
      bad: res.mismatches + res.setup_errors + res.send_errors,
      ok: res.ready === UDP_SOCKETS && res.datagrams > 0,
    };
  }, 'udp-echo.js', (res) => `  (lost ${res.lost}, stale ${res.stale}, generator ${res.client_cpu.cores} cores)`);
}

/** Connections per second (connect, one request, close), `CONNECT_LOOPS` at a time. */
function connectsWorkload(w: SocketWorkload): Promise<void> {
  const args = ['--loops', String(CONNECT_LOOPS), '--size', String(w.size), '--warmup', String(warmup), '--duration', String(duration)];
  return alternate(w, `${w.title} (${CONNECT_LOOPS} at a time)`, 'conn', args, (res) => ({
    rate: res.connects_per_s, p99: res.latency_us.p99,
    bad: res.refused + res.resets + res.mismatches + res.early_closes + res.timeouts + res.other_errors + res.stalled,
    ok: res.connects > 0,
  }), 'connect-rate.js');
}

/** Bytes of server RSS per idle connection: before connecting vs while holding IDLE_CONNS. */
async function idleMemory(): Promise<void> {
  const perConn: Record<BenchServer['name'], number[]> = { ss: [], baseline: [] };
  for (let r = 0; r < rounds; r++) {
    for (const name of ['ss', 'baseline'] as const) {
      // ss keeps its default keep-alive (15 s, longer than the hold): its per-connection timer is measured too.
      const server = await startServer(name, 'line', ['--backlog', String(IDLE_CONNS * 2)]);
      let child: ChildProcess | undefined;
      try {
        await sleep(1000);
        const before = rssKb(server.servingPid);
        child = track(spawn(process.execPath, [HERE + 'idle-clients.js', '--proto', 'line', '--port', String(server.port),
          '--conns', String(IDLE_CONNS), '--hold', '10'], { stdio: ['pipe', 'pipe', 'pipe'] }));
        let out = '';
        let err = '';
        child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
        const established = await new Promise<Record<string, any>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('idle clients did not connect within 40 s')), 40_000);
          child!.stdout!.setEncoding('utf8').on('data', (s: string) => {
            out += s;
            const line = out.split('\n').find((l) => l.includes('"established"'));
            if (line) { clearTimeout(timer); resolve(JSON.parse(line)); }
          });
          child!.once('exit', () => { clearTimeout(timer); reject(new Error(`idle clients exited early\n${err}`)); });
        });
        // Hold ~4 s in all (under ss's 15 s keep-alive), sampling RSS in the second half.
        await sleep(1500);
        const samples: number[] = [];
        for (let i = 0; i < 5; i++) { samples.push(rssKb(server.servingPid)); await sleep(500); }
        child.stdin!.end('go\n');
        await Promise.race([exited(child), sleep(20_000)]);
        const done = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, any>;
        const bytes = ((median(samples) - before) * 1024) / IDLE_CONNS;
        perConn[name].push(bytes);
        if (established.established !== IDLE_CONNS || done.answered !== IDLE_CONNS || done.mismatches || done.closes || done.errors) {
          failures.push(`idle-memory ${name} round ${r + 1}: ${JSON.stringify(done)}`);
        }
        console.error(`  idle-memory round ${r + 1} ${name.padEnd(8)} ${Math.round(bytes)} B/conn (RSS ${before} → ${median(samples)} KiB, ` +
          `connected in ${established.ms} ms, ${done.answered}/${IDLE_CONNS} answered)`);
      } finally {
        if (child) await stopProcess(child);
        await stopServer(server);
      }
    }
  }
  const ss = median(perConn.ss);
  const base = median(perConn.baseline);
  const ratio = ss / base;
  rows.push({ workload: `memory per idle connection (${IDLE_CONNS} held)`, ss: `${Math.round(ss)} B`, baseline: `${Math.round(base)} B`,
    ratio, ssP99: '-', baseP99: '-', target: '≤ 1.25', met: ratio <= 1.25 });
}

/** In-process per-byte cost of one 64 MiB netstring, 64 KiB vs 1 MiB reads (its own process). */
async function bigNetstring(): Promise<void> {
  const res = await runNode('big-netstring.js', ['--reps', String(Math.max(5, rounds))], 150_000, ['--expose-gc']);
  if (res.errors) failures.push(`netstring-64m: ${JSON.stringify(res)}`);
  console.error(`  netstring-64m ms per 64 KiB-read run: ${res.runs_ms_64k.join(' ')}; per 1 MiB-read run: ${res.runs_ms_1m.join(' ')}`);
  rows.push({ workload: 'netstring 64 MiB: ms/MiB, 64 KiB reads vs 1 MiB reads (ss, in-process)',
    ss: `${res.ms_per_mib_64k.toFixed(2)} ms/MiB`, baseline: `${res.ms_per_mib_1m.toFixed(2)} ms/MiB`, ratio: res.ratio,
    ssP99: '-', baseP99: '-', target: '≤ 1.50', met: res.ratio <= 1.5 });
}

/** An idle worker's RSS with the repository's TypeScript config against the bare node:net server (worker-memory.ts). */
async function workerMemory(): Promise<void> {
  const res = await runNode('worker-memory.js', ['--rounds', String(rounds)], 120_000 * rounds);
  rows.push({ workload: 'idle worker RSS, TypeScript config (ss worker vs bare node:net)', ss: `${(res.ss_kb / 1024).toFixed(1)} MiB`,
    baseline: `${(res.baseline_kb / 1024).toFixed(1)} MiB`, ratio: res.ratio, ssP99: '-', baseP99: '-', target: '≤ 1.30', met: res.ratio <= 1.3 });
}

/** Lines per second through createLogger to /dev/null, pretty against JSON (log-format.ts): a reference, no target. */
async function logFormat(): Promise<void> {
  const res = await runNode('log-format.js', ['--rounds', String(rounds)], 120_000);
  rows.push({ workload: 'log lines to /dev/null, pretty vs JSON (in-process, reference)', ss: `${fmtRate(res.pretty_lines_s)} lines/s`,
    baseline: `${fmtRate(res.json_lines_s)} lines/s`, ratio: res.ratio, ssP99: '-', baseP99: '-', target: '-', met: true });
}

const RESP_KV_HANDLER = './test/bench/resp-kv-handler.mjs'; // ss runs in the repository
const redisSkipped: string[] = [];
const notes: string[] = [];

/**
 * redis-benchmark against ss (resp, Map store) and redis-server alternately, each run on a
 * fresh server after a warm-up: rows of median requests per second for SET and for GET, with
 * their p50.
 */
async function redisWorkload(w: RedisWorkload): Promise<void> {
  const missing = ['redis-benchmark', 'redis-server'].filter((cmd) => !available(cmd));
  if (missing.length > 0) {
    redisSkipped.push(`${w.name} skipped: ${missing.join(' and ')} not found`);
    console.error(`bench: ${redisSkipped.at(-1)}`);
    return;
  }
  type Got = Record<'SET' | 'GET', { rps: number[]; p50: number[] }>;
  const fresh = (): Got => ({ SET: { rps: [], p50: [] }, GET: { rps: [], p50: [] } });
  const got: Record<'ss' | 'node' | 'redis', Got> = { ss: fresh(), node: fresh(), redis: fresh() };
  for (let r = 0; r < rounds; r++) {
    for (const name of w.kv ? ['ss', 'redis'] as const : ['ss', 'node', 'redis'] as const) {
      let stop: () => Promise<void>;
      let port: number;
      if (name === 'ss') {
        const server = await startServer('ss', 'resp', w.kv ? ['--plugin', 'kv'] : ['--handler', RESP_KV_HANDLER]);
        port = server.port;
        stop = () => stopServer(server);
      } else if (name === 'node') {
        const child = track(spawn(process.execPath, [HERE + 'resp-bare-server.js', '0'], { stdio: ['ignore', 'pipe', 'inherit'] }));
        port = await listeningPort(child);
        stop = () => stopProcess(child);
      } else {
        port = await freePort();
        const child = track(await startRedis(port));
        stop = () => stopProcess(child);
      }
      let res: Record<string, RedisResult>;
      const m0 = machineCpuMs();
      const t0 = Date.now();
      try {
        await sleep(300);
        // Warm up as the socket workloads do (a tenth of the run, discarded): ss's first
        // requests run before its hot path is compiled; redis-server gets the same.
        await redisBenchmark(port, CONNS, Math.ceil(w.requests / 10), w.pipeline, 60_000, track);
        res = await redisBenchmark(port, CONNS, w.requests, w.pipeline, 120_000, track);
      } finally {
        await stop();
      }
      const busy = (machineCpuMs() - m0) / (Date.now() - t0);
      for (const test of ['SET', 'GET'] as const) {
        got[name][test].rps.push(res[test]!.rps);
        got[name][test].p50.push(res[test]!.p50_ms);
      }
      console.error(`  ${w.name} round ${r + 1} ${name.padEnd(5)} SET ${fmtRate(res.SET!.rps).padStart(7)} req/s p50 ${res.SET!.p50_ms.toFixed(3)} ms` +
        `  GET ${fmtRate(res.GET!.rps).padStart(7)} req/s p50 ${res.GET!.p50_ms.toFixed(3)} ms  (machine ${busy.toFixed(2)} cores busy)`);
    }
  }
  for (const test of ['SET', 'GET'] as const) {
    const ss = median(got.ss[test].rps);
    const base = median(got.redis[test].rps);
    const ratio = ss / base;
    rows.push({ workload: `redis-benchmark ${test}, pipeline ${w.pipeline}, ${w.kv ? 'ss --plugin kv' : 'a Map store'} vs redis-server (p50 in the p99 columns)`,
      ss: `${fmtRate(ss)} req/s`, baseline: `${fmtRate(base)} req/s`, ratio,
      ssP99: `p50 ${median(got.ss[test].p50).toFixed(3)} ms`, baseP99: `p50 ${median(got.redis[test].p50).toFixed(3)} ms`,
      target: w.target === null ? '-' : `≥ ${w.target.toFixed(2)}`, met: w.target === null || ratio >= w.target });
    if (w.kv) continue;
    // What Node reaches without the framework (same decoder, encoder and store): a reference, no target.
    const bare = median(got.node[test].rps);
    rows.push({ workload: `  the same, a hand-written node:net RESP server vs redis-server (reference)`,
      ss: `${fmtRate(bare)} req/s`, baseline: `${fmtRate(base)} req/s`, ratio: bare / base,
      ssP99: `p50 ${median(got.node[test].p50).toFixed(3)} ms`, baseP99: `p50 ${median(got.redis[test].p50).toFixed(3)} ms`,
      target: '-', met: true });
  }
}

async function main(): Promise<number> {
  console.error(`bench: ${only.join(', ')}; ${rounds} round(s) of ${warmup} s warmup + ${duration} s, ${CONNS} connections`);

  // First, before any socket workload: its 64 MiB allocations must not disturb them.
  if (only.includes('netstring-64m')) await waitQuiet(10_000, 'netstring-64m').then(bigNetstring);
  for (const w of SOCKET_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => socketWorkload(w));
  for (const w of METRICS_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.title).then(() => socketWorkload(w));
  if (only.includes(PUSH_LINE.name)) await waitQuiet(10_000, PUSH_LINE.name).then(() => socketWorkload(PUSH_LINE));
  for (const w of REDIS_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => redisWorkload(w));
  for (const w of FANOUT_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => fanoutWorkload(w));
  for (const w of WS_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => (w.wsBaseline === 'echo' ? wsEchoWorkload(w) : wsFanoutWorkload(w)));
  for (const w of UDP_WORKLOADS.filter((x) => !x.workers)) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => udpEchoWorkload(w));
  if (only.includes('idle-memory')) await waitQuiet(10_000, 'idle-memory').then(idleMemory);
  if (only.includes('worker-memory')) await waitQuiet(10_000, 'worker-memory').then(workerMemory);
  if (only.includes('log-format')) await waitQuiet(10_000, 'log-format').then(logFormat);
  // Last: multi-process servers, and the connect workload's TIME_WAIT sockets, disturb nothing after them.
  for (const w of CLUSTER_WORKLOADS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => socketWorkload(w));
  if (only.includes(CONNECTS.name)) await waitQuiet(10_000, CONNECTS.name).then(() => connectsWorkload(CONNECTS));
  for (const w of SINGLE_CONNECTS) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => connectsWorkload(w));
  for (const w of UDP_WORKLOADS.filter((x) => x.workers)) if (only.includes(w.name)) await waitQuiet(10_000, w.name).then(() => udpEchoWorkload(w));

  console.log('\n| workload | ss | baseline | ratio | ss p99 | baseline p99 | target | met |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.workload} | ${r.ss} | ${r.baseline} | ${r.ratio.toFixed(2)} | ${r.ssP99} | ${r.baseP99} | ${r.target} | ${r.met ? 'yes' : 'NOT MET'} |`);
  }
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const n of [...redisSkipped, ...notes]) console.log(`note: ${n}`);
  const allMet = rows.every((r) => r.met);
  console.log(`\n${allMet ? 'all targets met' : `targets not met: ${rows.filter((r) => !r.met).map((r) => r.workload).join('; ')}`}`);
  if (failures.length > 0) {
    console.log(`\nVALIDATION ERRORS in ${failures.length} run(s):`);
    for (const f of failures) console.log(`  ${f}`);
    return 1;
  }
  return 0;
}

main().then((code) => {
  process.exitCode = code;
  killAll('SIGKILL'); // nothing should be left; make sure
}, (err) => {
  if (!interrupted) console.error('bench failed:', err); // else: a child we stopped, not news
  killAll('SIGTERM');
  process.exitCode = 1;
});
