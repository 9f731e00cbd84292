import type { ChildProcess } from 'node:child_process';

/** A JSON log line of `ss` (its stderr). */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every `ss` still running, killed if this process exits first (a test that failed before its teardown). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
});

/** A running `ss`, spawned with stdout and stderr piped, with its log lines parsed as they arrive. */
export class SsProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  stdout = '';
  readonly exited: Promise<Exit>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  private partial = '';

  constructor(readonly child: ChildProcess) {
    running.add(child);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.stdout += s; });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => this.onStderr(s));
    // 'close', not 'exit': it comes once stdout and stderr have been read to the end.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private onStderr(s: string): void {
    this.stderr += s;
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop()!;
    for (const text of lines) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      if (line === null || typeof line !== 'object' || Array.isArray(line)) continue; // an access line that happens to be JSON
      this.logs.push(line);
      this.waiters = this.waiters.filter((w) => (w.pred(line) ? (w.resolve(line), false) : true));
    }
  }

  /** The first log line (already seen or still to come) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs}ms; stderr:\n${this.stderr}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      void this.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`ss exited (${e.code ?? e.signal}) before the log line; stderr:\n${this.stderr}`));
      });
    });
  }

  /** Addresses from the "listening on" lines, in bind order. */
  get addresses(): string[] {
    return this.logs.filter((l) => typeof l.address === 'string' && l.msg.startsWith('listening on')).map((l) => l.address as string);
  }

  /** Port of the first TCP address. */
  get port(): number {
    const addr = this.addresses.find((a) => !a.startsWith('unix:') && !a.startsWith('udp://'));
    if (!addr) throw new Error('no TCP address bound');
    return Number(addr.slice(addr.lastIndexOf(':') + 1));
  }

  /** Signal the process and wait for it to exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    try {
      process.kill(this.pid, signal);
    } catch {
      return this.exited; // it exited just now: its close is on the way
    }
    const timer = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}
