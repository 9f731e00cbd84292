// The redis-* workloads of `npm run bench`: redis-benchmark against a real redis-server and
// against `ss serve --plugin resp` with a Map store (resp-kv-handler.mjs).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startRedis } from '../helpers/redis-server.js';

export { startRedis };

/** Whether `cmd` runs (`cmd --version`). */
export function available(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore', timeout: 5000 });
  return r.error === undefined && r.status === 0;
}

/** A loopback port free now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** One test's result from redis-benchmark --csv. */
export interface RedisResult { rps: number; p50_ms: number; p99_ms: number }

/**
 * `redis-benchmark -p PORT -t set,get -c CONNS -n N -P PIPELINE --csv`, killed after `capMs`:
 * requests per second and latencies per test ("SET", "GET").
 */
export async function redisBenchmark(port: number, conns: number, requests: number, pipeline: number, capMs: number,
  track: (c: ChildProcess) => ChildProcess): Promise<Record<string, RedisResult>> {
  const child = track(spawn('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-c', String(conns), '-n', String(requests),
    '-P', String(pipeline), '--csv'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, capMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const results = parseCsv(out);
  if (code !== 0 || !results.SET || !results.GET) throw new Error(`redis-benchmark exited ${code ?? 'killed'} without SET and GET results\n${out}${err}`);
  return results;
}

/** redis-benchmark 7's --csv: a header line, then `"TEST","rps","avg",...,"p50",...` per test. */
export function parseCsv(text: string): Record<string, RedisResult> {
  const lines = text.trim().split('\n').map((l) => l.trim().split(',').map((f) => f.replace(/^"|"$/g, '')));
  const header = lines.find((f) => f[0] === 'test');
  const out: Record<string, RedisResult> = {};
  if (!header) return out;
  const col = (name: string) => header.indexOf(name);
  for (const f of lines) {
    if (f === header || f.length !== header.length) continue;
    out[f[0]!] = { rps: Number(f[col('rps')]), p50_ms: Number(f[col('p50_latency_ms')]), p99_ms: Number(f[col('p99_latency_ms')]) };
  }
  return out;
}
