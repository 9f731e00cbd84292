import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from '../logger.js';

let setpriv: string | null | undefined;

/** util-linux's setpriv, if it is on this machine and knows --pdeathsig (util-linux >= 2.33). */
function findSetpriv(): string | null {
  if (process.platform !== 'linux') return null;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin']) {
    if (!dir) continue;
    const file = join(dir, 'setpriv');
    try {
      accessSync(file, constants.X_OK);
    } catch {
      continue;
    }
    const help = process.getBuiltinModule('node:child_process').spawnSync(file, ['--help'], { encoding: 'utf8', timeout: 2000 });
    return help.stdout?.includes('--pdeathsig') ? file : null;
  }
  return null;
}

/**
 * Start a worker process running `file`, with an IPC channel, as fork() does. Where setpriv is
 * available it runs the worker with Linux's parent-death signal set to SIGKILL, so a worker
 * dies with its arbiter even when it cannot see the IPC channel close (a blocked event loop,
 * SIGSTOP): an orphan would keep its listening socket and the kernel would keep giving it
 * connections. setpriv execs node, so the child's pid is the worker's.
 */
export function forkWorker(file: string, log: Logger): ChildProcess {
  if (setpriv === undefined) {
    setpriv = findSetpriv();
    if (setpriv === null) log.debug('setpriv --pdeathsig not found: a worker whose arbiter is killed exits only once it sees the IPC channel close');
  }
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as const;
  const { spawn } = process.getBuiltinModule('node:child_process');
  const node = [process.execPath, ...process.execArgv, file];
  if (setpriv === null) return spawn(node[0]!, node.slice(1), { cwd: process.cwd(), stdio: [...stdio] });
  return spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', ...node], { cwd: process.cwd(), stdio: [...stdio] });
}
