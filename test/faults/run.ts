// `npm run faults`: the fault suite. A running `ss serve --workers 2` takes a steady connect +
// request loop while operators' and the kernel's faults hit it at random, and every request
// is accounted for.
//
//   npm run faults -- [--duration 120] [--clients 8] [--seed N] [--balance auto|shared|round-robin|reuse-port]
//
// Faults, one every 1–3 s: HUP (reload), TTIN, TTOU, SIGKILL of a worker, SIGSTOP of a worker
// past --timeout (the arbiter must kill and replace it; SIGCONT follows), and a broken config
// swapped in for a HUP and then restored for another.
//
// Targets (exit 1 when one is missed): no failed request except on connections open when a
// worker was killed (by us, or by the arbiter after a SIGSTOP); the arbiter's and the workers'
// RSS at the end within ±10% of the start (after warm-up); the server alive and answering at
// the end, and stopping with exit 0 on TERM. Loopback only; every loop is bounded in time.
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requestInfo } from '@socketserver/core/process';
import { isAlive, startSs, type SsProcess } from '../helpers/ss.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' },
    clients: { type: 'string', default: '8' },
    seed: { type: 'string' },
    balance: { type: 'string' },
  },
});
const DURATION_S = Number(opt.duration);
const CLIENTS = Number(opt.clients);
if (!(DURATION_S >= 10 && DURATION_S <= 1800) || !(Number.isInteger(CLIENTS) && CLIENTS >= 1 && CLIENTS <= 64)) {
  console.error('faults: --duration 10..1800 seconds, --clients 1..64');
  process.exit(2);
}
const TIMEOUT_S = 2; // ss --timeout: a SIGSTOPped worker is killed after this
const REQUEST_TIMEOUT_MS = 10_000;
const WARMUP_MS = 5_000;
const MAX_WORKERS = 4;

// A small seeded PRNG (mulberry32), so a failing run can be repeated with --seed.
let seed = opt.seed !== undefined ? Number(opt.seed) >>> 0 : (Date.now() ^ process.pid) >>> 0;
const firstSeed = seed;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (text: string) => console.error(`faults ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s  ${text}`);
const t0 = Date.now();

// ---- the server ----

const dir = mkdtempSync(join(tmpdir(), 'ss-faults-'));
const configFile = join(dir, 'socketserver.config.mjs');
const GOOD = `export default { plugins: ['line'], workers: 2, timeout: ${TIMEOUT_S}, graceful_timeout: 5 };\n`;
const BROKEN = [
  'export default { plugins: [\'line\'], workers: \'many\' };\n', // a bad value
  'export default { plugins: [\'line\'\n', // a syntax error
];
writeFileSync(configFile, GOOD);

function rss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Snapshot { arbiter: number; workers: number[]; wanted: number }
async function snapshot(ss: SsProcess): Promise<Snapshot> {
  const info = await requestInfo(ss.pid, 5000);
  const workers = (info.workers as { pid: number; state: string }[]).filter((w) => w.state === 'running').map((w) => w.pid);
  return { arbiter: ss.pid, workers, wanted: info.monitors[0].workers.wanted as number };
}
function memory(s: Snapshot): { arbiter: number; worker: number } {
  const workers = s.workers.map(rss).filter((n): n is number => n !== undefined);
  return { arbiter: rss(s.arbiter) ?? NaN, worker: workers.reduce((a, b) => a + b, 0) / Math.max(1, workers.length) };
}

// ---- the load: CLIENTS loops of connect, one line, its reply, close ----

type Cause = 'refused' | 'reset' | 'timed out' | 'wrong reply';
interface Failure { cause: Cause; started: number; failed: number }
const stats = { made: 0, ok: 0 };
const failures: Failure[] = [];
/** Instants at which a worker was killed (ours, or the arbiter's after a SIGSTOP; a window for the latter). */
const kills: { from: number; to: number }[] = [];
let loading = true;

function request(port: number, n: number): Promise<Cause | undefined> {
  return new Promise((resolve) => {
    const line = `req-${n}-${'x'.repeat(n % 200)}`;
    const socket = connect({ host: '127.0.0.1', port });
    let got = '';
    let settled = false;
    const done = (cause: Cause | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(cause);
    };
    const timer = setTimeout(() => done('timed out'), REQUEST_TIMEOUT_MS);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.endsWith('\n')) done(got === `${line}\n` ? undefined : 'wrong reply');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'reset'));
    socket.on('close', () => done('reset'));
  });
}

async function client(port: number, id: number): Promise<void> {
  for (let n = id; loading; n += CLIENTS) {
    const started = Date.now();
    stats.made++;
    const cause = await request(port, n);
    if (cause === undefined) stats.ok++;
    else failures.push({ cause, started, failed: Date.now() });
  }
}

// ---- the faults ----

const counts: Record<string, number> = {};
async function fault(ss: SsProcess): Promise<void> {
  const s = await snapshot(ss);
  const kinds = ['hup', 'kill', 'stop', 'bad-config'];
  if (s.wanted < MAX_WORKERS) kinds.push('ttin');
  if (s.wanted > 1) kinds.push('ttou');
  const kind = pick(kinds);
  counts[kind] = (counts[kind] ?? 0) + 1;
  switch (kind) {
    case 'hup': log('HUP'); process.kill(ss.pid, 'SIGHUP'); break;
    case 'ttin': log('TTIN'); process.kill(ss.pid, 'SIGTTIN'); break;
    case 'ttou': log('TTOU'); process.kill(ss.pid, 'SIGTTOU'); break;
    case 'kill': {
      if (s.workers.length === 0) break;
      const pid = pick(s.workers);
      log(`SIGKILL worker ${pid}`);
      const now = Date.now();
      kills.push({ from: now, to: now + 100 });
      process.kill(pid, 'SIGKILL');
      break;
    }
    case 'stop': {
      if (s.workers.length === 0) break;
      const pid = pick(s.workers);
      log(`SIGSTOP worker ${pid} for ${TIMEOUT_S + 2} s`);
      const now = Date.now();
      // The arbiter kills it once it has been silent for --timeout (heartbeat checks every 250 ms).
      kills.push({ from: now, to: now + (TIMEOUT_S + 2) * 1000 });
      process.kill(pid, 'SIGSTOP');
      await sleep((TIMEOUT_S + 2) * 1000);
      if (isAlive(pid)) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
      break;
    }
    case 'bad-config': {
      const broken = pick(BROKEN);
      log('broken config swapped in, HUP');
      writeFileSync(configFile, broken);
      process.kill(ss.pid, 'SIGHUP');
      await sleep(1500);
      log('good config back, HUP');
      writeFileSync(configFile, GOOD);
      process.kill(ss.pid, 'SIGHUP');
      break;
    }
  }
}

// ---- the run ----

async function main(): Promise<number> {
  const args = ['--config', configFile, '--bind', '127.0.0.1:0', ...(opt.balance ? ['--balance', opt.balance] : [])];
  const ss = await startSs(args, { cwd: dir });
  log(`ss serving on 127.0.0.1:${ss.port} (arbiter ${ss.pid}), seed ${firstSeed}, ${CLIENTS} clients, ${DURATION_S} s`);
  const loops = Array.from({ length: CLIENTS }, (_, i) => client(ss.port, i));
  await sleep(WARMUP_MS);
  const start = memory(await snapshot(ss));
  const until = Date.now() + DURATION_S * 1000;
  while (Date.now() < until && isAlive(ss.pid)) {
    await fault(ss).catch((err: Error) => log(`fault skipped: ${err.message}`));
    await sleep(1000 + random() * 2000);
  }
  // Settle: back to two workers, the good config, and a few seconds of plain load.
  writeFileSync(configFile, GOOD);
  const settle = await snapshot(ss).catch(() => undefined);
  for (let w = settle?.wanted ?? 2; w > 2; w--) process.kill(ss.pid, 'SIGTTOU');
  for (let w = settle?.wanted ?? 2; w < 2; w++) process.kill(ss.pid, 'SIGTTIN');
  await sleep(5000);
  const alive = isAlive(ss.pid);
  const end = alive ? memory(await snapshot(ss)) : { arbiter: NaN, worker: NaN };
  loading = false;
  await Promise.all(loops);
  const answering = alive && (await request(ss.port, 1)) === undefined;
  const exit = await ss.stop('SIGTERM', 30_000);

  const excused = failures.filter((f) => kills.some((k) => f.started <= k.to && f.failed >= k.from));
  const counted = failures.filter((f) => !excused.includes(f));
  const byCause = (list: Failure[]) => {
    const c: Record<string, number> = {};
    for (const f of list) c[f.cause] = (c[f.cause] ?? 0) + 1;
    return Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  };
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const change = (a: number, b: number) => (b - a) / a;
  const arbiterChange = change(start.arbiter, end.arbiter);
  const workerChange = change(start.worker, end.worker);
  const checks: [string, boolean][] = [
    [`failed requests (not on a killed worker's connections): ${counted.length} (${byCause(counted)})`, counted.length === 0],
    [`arbiter RSS ${mib(start.arbiter)} → ${mib(end.arbiter)} (${(arbiterChange * 100).toFixed(1)}%, within ±10%)`, Math.abs(arbiterChange) <= 0.1],
    [`worker RSS (mean) ${mib(start.worker)} → ${mib(end.worker)} (${(workerChange * 100).toFixed(1)}%, within ±10%)`, Math.abs(workerChange) <= 0.1],
    [`server alive and answering at the end: ${answering ? 'yes' : 'no'}`, answering],
    [`TERM: exit ${exit.code ?? exit.signal}`, exit.code === 0],
  ];
  console.log(`\nfaults: seed ${firstSeed}, ${DURATION_S} s, ${CLIENTS} clients; faults: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`requests made ${stats.made}, answered ${stats.ok}, failed ${failures.length}: on a killed worker's connections ${excused.length} (${byCause(excused)}), others ${counted.length}`);
  for (const [text, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'}  ${text}`);
  const met = checks.every(([, ok]) => ok);
  if (!met) {
    const errors = ss.logs.filter((l) => l.level >= 50).slice(-10).map((l) => `  ${l.msg}`);
    if (errors.length) console.log(`last error lines from ss:\n${errors.join('\n')}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return met ? 0 : 1;
}

process.exitCode = await main();
