import { spawn, type ChildProcess } from 'node:child_process';
import { eventually, ssInfo, type SsProcess } from './ss.js';

/** Start redis-server on `port` (no persistence, in the foreground, `extra` options after); resolves once it accepts connections. */
export async function startRedis(port: number, extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s\n${out}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('Ready to accept connections')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited at start (${code})\n${out}`)); });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}


/** Every worker of `ss` connected to Redis (both its connections, `--pubsub`): what it publishes from now on reaches the other servers. */
export async function bridged(ss: SsProcess): Promise<void> {
  await eventually(async () => {
    const workers = (await ssInfo(ss.pid)).workers as { stats: { pubsub?: { redis?: { state: string } } } }[];
    return workers.length > 0 && workers.every((w) => w.stats.pubsub?.redis?.state === 'ready') || undefined;
  }, 'every worker to be connected to redis', 20_000);
}
