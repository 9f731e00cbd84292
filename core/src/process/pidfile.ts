import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { StartupError, errorMessage } from '../errors.js';

/** Is a process with this pid alive (ours or another user's)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The arbiter's pidfile: refused when it names a live process, replaced when stale.
 * `remove` deletes it only while it still holds our pid.
 */
export class Pidfile {
  private constructor(readonly path: string, readonly replaced: number | undefined) {}

  static create(path: string): Pidfile {
    let previous: number | undefined;
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StartupError(`pidfile ${path}: ${errorMessage(err)}`);
    }
    if (text !== undefined) {
      const pid = Number(text.trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new StartupError(`pidfile ${path}: already running as pid ${pid} (stop it, or remove the file if that process is not ss)`);
      }
      previous = Number.isInteger(pid) && pid > 0 ? pid : undefined;
      try { unlinkSync(path); } catch { /* gone meanwhile */ }
    }
    try {
      // `wx`: if another server wrote it since we looked, we lose rather than both believing we own it.
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      throw new StartupError(`pidfile ${path}: ${errorMessage(err)}`);
    }
    return new Pidfile(path, previous);
  }

  remove(): void {
    try {
      if (readFileSync(this.path, 'utf8').trim() === String(process.pid)) unlinkSync(this.path);
    } catch { /* already gone */ }
  }
}
