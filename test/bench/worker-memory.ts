// RSS of an idle ss worker serving the repository's TypeScript config (socketserver.config.ts,
// the line protocol) against the bare node:net baseline server, on the Node that runs this.
//
//   node test/dist/bench/worker-memory.js [--rounds 3] [--settle 2000]
//
// Each round starts a fresh `ss serve --workers 1` in the repository folder and a fresh
// baseline server, waits `settle` ms for start-up to finish, and reads VmRSS from
// /proc/PID/status. Prints one JSON line on stdout: medians in KiB and their ratio.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO, ssInfo, startSs } from '../helpers/ss.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, settle: { type: 'string', default: '2000' } } });
const rounds = Number(opt.rounds);
const settle = Number(opt.settle);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20) || !(settle >= 0 && settle <= 60_000)) {
  console.error('worker-memory: --rounds 1..20, --settle 0..60000 (ms)');
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** An idle ss worker's RSS: one worker, the repository's TS config, its bind replaced by a free port. */
async function ssWorker(): Promise<number> {
  const ss = await startSs(['--workers', '1'], { cwd: REPO });
  try {
    const info = await ssInfo(ss.pid);
    const pid = info.workers?.[0]?.pid as number | undefined;
    if (!pid) throw new Error(`no worker in ${JSON.stringify(info)}`);
    await sleep(settle);
    return rssKb(pid);
  } finally {
    await ss.stop();
  }
}

/** The bare node:net line server's RSS once it listens. */
async function baseline(): Promise<number> {
  const child = spawn(process.execPath, [HERE + 'baseline-server.js', 'line', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; if (out.includes('listening')) resolve(); });
      child.once('exit', () => reject(new Error('baseline server exited before listening')));
    });
    await sleep(settle);
    return rssKb(child.pid!);
  } finally {
    clearTimeout(killer);
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
}

const ssKb: number[] = [];
const baseKb: number[] = [];
for (let r = 0; r < rounds; r++) {
  ssKb.push(await ssWorker());
  baseKb.push(await baseline());
  console.error(`  worker-memory round ${r + 1}: ss worker ${ssKb.at(-1)} KiB, baseline ${baseKb.at(-1)} KiB`);
}
const ss = median(ssKb);
const base = median(baseKb);
console.log(JSON.stringify({ node: process.version, ss_kb: ss, baseline_kb: base, ratio: Number((ss / base).toFixed(3)) }));
