import { closeSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
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

const ATTEMPTS = 5;
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;
const unique = (path: string, what: string) => `${path}.${what}.${process.pid}.${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`;

/** A pidfile's inode and the pid it names (undefined for anything else in it); undefined when there is none. */
function readPidfile(path: string): { ino: number; pid: number | undefined } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const ino = fstatSync(fd).ino;
    const pid = Number(readFileSync(fd, 'utf8').trim());
    return { ino, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined };
  } finally {
    closeSync(fd);
  }
}

/** Put `pid` at `path` unless something is there: true when it was put, false on EEXIST. */
function linkInPlace(path: string, pid: number): boolean {
  // Written whole under a unique name, then linked: the pidfile is never seen half-written,
  // and link(), unlike rename(), fails rather than replace a file that appeared meanwhile.
  const tmp = unique(path, 'new');
  writeFileSync(tmp, `${pid}\n`, { flag: 'wx', mode: 0o644 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  } finally {
    try { unlinkSync(tmp); } catch { /* gone */ }
  }
}

/**
 * Remove the stale pidfile whose inode is `ino`. It is first renamed aside, atomically,
 * and checked: if what moved is not it (another server replaced it since it was read),
 * that file is linked back, unless yet another one took its place.
 */
function removeStale(path: string, ino: number, beforeAside: () => void): void {
  const aside = unique(path, 'stale');
  beforeAside();
  try {
    renameSync(path, aside);
  } catch (err) {
    if (code(err) === 'ENOENT') return; // someone else removed it: try again
    throw err;
  }
  if (lstatSync(aside).ino !== ino) {
    try {
      linkSync(aside, path);
    } catch (err) {
      throw new Error(`another server's pidfile was moved to ${aside} while a third one started; ${errorMessage(err)}`);
    }
  }
  unlinkSync(aside);
}

export interface ClaimOptions {
  /** Tests only: runs between reading a stale pidfile and moving it aside, where another server may replace it. */
  readonly beforeAside?: () => void;
}

/**
 * The arbiter's pidfile: refused when it names a live process, replaced when stale.
 * `remove` deletes it only while it still holds our pid.
 */
export class Pidfile {
  private constructor(readonly path: string, readonly replaced: number | undefined, private readonly ino: number) {}

  static create(path: string, opts: ClaimOptions = {}): Pidfile {
    let replaced: number | undefined;
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (linkInPlace(path, process.pid)) return new Pidfile(path, replaced, lstatSync(path).ino);
        const found = readPidfile(path);
        if (!found) continue; // removed since: try again
        if (found.pid !== undefined && found.pid !== process.pid && alive(found.pid)) {
          throw new StartupError(`pidfile ${path}: already running as pid ${found.pid} (stop it, or remove the file if that process is not ss)`);
        }
        replaced = found.pid;
        removeStale(path, found.ino, opts.beforeAside ?? (() => {}));
      }
    } catch (err) {
      throw err instanceof StartupError ? err : new StartupError(`pidfile ${path}: ${errorMessage(err)}`);
    }
    throw new StartupError(`pidfile ${path}: still contested after ${ATTEMPTS} attempts (other servers starting with it?)`);
  }

  remove(): void {
    try {
      const found = readPidfile(this.path);
      if (found?.ino === this.ino && found.pid === process.pid) unlinkSync(this.path);
    } catch { /* already gone */ }
  }
}
