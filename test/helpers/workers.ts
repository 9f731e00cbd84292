import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core/process';
import { eventually, ssInfo, type SsProcess } from './ss.js';
import { FIXTURES } from './temp.js';

/** A handler answering `pid` with the pid of the process serving it; `block` blocks its event loop; anything else is echoed. */
export const PID_HANDLER = join(FIXTURES, 'runtime', 'pid-handler.mjs');

/** Every way connections reach workers that this Node has ('auto' picks one of them). */
export const BALANCES = ['round-robin', 'shared', ...(supportsReusePort() ? ['reuse-port'] : [])];

/** Pids of the workers ready so far (of worker `id` only, if given), from the arbiter's `worker N ready` log lines. */
export function readyPids(ss: SsProcess, id?: number): number[] {
  return ss.logs.filter((l) => /^worker \d+ ready/.test(l.msg) && (id === undefined || l.worker === id)).map((l) => l.workerPid as number);
}

/** Pids of the workers `ss info` lists, once `n` are alive and running. */
export function workersRunning(ss: SsProcess, n: number, opts: { cwd?: string } = {}): Promise<number[]> {
  return eventually(async () => {
    const info = await ssInfo(ss.pid, opts);
    const running = info.workers.filter((w: { state: string }) => w.state === 'running');
    return info.monitors[0].workers.alive === n && info.workers.length === n && running.length === n
      ? info.workers.map((w: { pid: number }) => w.pid) as number[] : undefined;
  }, `${n} workers running`, 15_000);
}

/** The pids of two running workers, none of them one of `before` (a reload done). */
export function replaced(ss: SsProcess, before: readonly number[]): Promise<number[]> {
  return eventually(async () => {
    const pids = await workersRunning(ss, 2);
    return pids.every((p) => !before.includes(p)) ? pids : undefined;
  }, 'two new workers', 15_000);
}
