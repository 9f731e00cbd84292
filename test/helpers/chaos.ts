import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { startSs, type SsProcess } from './ss.js';
import { FIXTURES, tempDir } from './temp.js';
import { PID_HANDLER } from './workers.js';

/** The hook plugin of faults: `--chaos` picks one; some act only while `--chaos-file` exists. */
export const CHAOS = join(FIXTURES, 'runtime', 'chaos.mjs');

/**
 * `ss serve` of 'line' answering pids, with `workers` workers and the chaos plugin's `fault`, which
 * acts while `file` (absent at first) exists. Stopped at teardown.
 */
export async function startChaos(t: ExecutionContext, fault: string, workers: number): Promise<{ ss: SsProcess; file: string }> {
  const file = join(tempDir(t, fault), 'on');
  const ss = await startSs(t, ['--plugin', 'line', '--workers', String(workers), '--handler', PID_HANDLER,
    '--plugin', CHAOS, '--chaos', fault, '--chaos-file', file]);
  return { ss, file };
}
