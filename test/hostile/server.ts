import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { requestInfo } from '@socketserver/core/process';
import type { InfoDocument } from '@socketserver/core';
import { REPO, SS_BIN } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

/** Most of stderr kept (its tail): a flood of warnings must not grow this process without bound. */
const STDERR_KEEP = 16 * 2 ** 20;

/** Servers not yet stopped: killed if this process exits first (an error, Ctrl-C). */
const running = new Set<Server>();
process.on('exit', () => { for (const ss of running) ss.kill(); });
process.once('SIGINT', () => process.exit(130));

export interface ServeOptions {
  /** Added to this process's environment; undefined removes a variable. */
  env?: Record<string, string | undefined>;
  /** stderr goes to this fd (a pipe nobody reads) instead of being read here. */
  stderrFd?: number;
}

/**
 * One `ss serve` under attack, spawned here (not through the test helpers: one attack needs its
 * stderr to be a pipe that nobody reads). Its stderr is kept as text; its pids come from `ss info`.
 */
export class Server {
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Worker pids when serving began. */
  workers: number[] = [];

  constructor(args: readonly string[], opts: ServeOptions = {}) {
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    for (const key of Object.keys(env)) if (key.startsWith('SS_')) delete env[key];
    const bind = args.some((a) => a === '--bind' || a === '-b') ? [] : ['--bind', '127.0.0.1:0'];
    this.child = spawn(process.execPath, [SS_BIN, 'serve', ...args, ...bind], {
      cwd: REPO, env, stdio: ['ignore', 'ignore', opts.stderrFd ?? 'pipe'],
    });
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > STDERR_KEEP) this.stderr = this.stderr.slice(-STDERR_KEEP / 2);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    running.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolve once `re` matches stderr (read here) or `text()` (a stderr read elsewhere). */
  async waitFor(re: RegExp, timeoutMs = 20_000, text = () => this.stderr): Promise<RegExpExecArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(text());
      if (m) return m;
      if (!alive(this.pid) || Date.now() > until) throw new Error(`ss: no ${re} within ${timeoutMs / 1000} s; stderr:\n${text().slice(-2000)}`);
      await sleep(50);
    }
  }

  /** Wait for "serving", note the worker pids; the first TCP port from the "listening on" line (if any). */
  async ready(text = () => this.stderr): Promise<number> {
    await this.waitFor(/serving \S+ with/, 30_000, text);
    this.workers = await this.runningWorkers();
    const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text());
    return m ? Number(m[1]) : 0;
  }

  info(timeoutMs = 5000): Promise<InfoDocument> {
    return requestInfo(this.pid, timeoutMs);
  }

  async runningWorkers(): Promise<number[]> {
    return (await this.info()).workers.filter((w) => w.state === 'running').map((w) => w.pid);
  }

  /** The arbiter and its children (the workers, whatever their state), from /proc. */
  tree(): number[] {
    const pids = [this.pid];
    try {
      for (const task of readdirSync(`/proc/${this.pid}/task`)) {
        const children = readFileSync(`/proc/${this.pid}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(' ').map(Number));
      }
    } catch { /* gone */ }
    return pids;
  }

  /** Log lines that say a worker died: exited, or was killed by the watchdog or for not stopping. */
  deathLines(): string[] {
    return this.stderr.split('\n').filter((l) => /worker \d+ \(pid \d+\) (exited|silent for|did not stop)/.test(l));
  }

  /** Kill every process of the tree now, by pid (over the memory bound: no time for a graceful stop). */
  kill(): void {
    for (const pid of this.tree().reverse()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }

  /** TERM, then KILL of the tree after `timeoutMs`; resolves once the arbiter and its workers are gone. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const pids = this.tree();
    try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
    const until = Date.now() + timeoutMs;
    while (pids.some(alive) && Date.now() < until) await sleep(100);
    for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    const hard = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < hard) await sleep(50);
    running.delete(this);
  }
}

/** Is the process alive (not gone, not a zombie its parent has not reaped)? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Resident memory of a process in bytes (0 once it is gone). */
export function rss(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}
