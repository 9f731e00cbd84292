// A lock file ordering a few quick steps between processes (binding a unix socket, removing it).
// It is created whole under a unique name and link(2)ed into place, which fails if one is there,
// and names its holder: `PID START` (the start time lets a reused pid be told apart). A lock
// whose holder is gone (a process killed while holding it) is stale, and is removed.
import { closeSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** How many stale locks in a row one claim removes before giving up (others dying with it?). */
const STALE_ATTEMPTS = 5;
const POLL_MS = 20;

/** The locks this process holds, by path, with their inode. */
const held = new Map<string, number>();

/** Is a process with this pid alive (ours or another user's)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return code(err) === 'EPERM';
  }
}

/** When a process started, as the kernel counts it (/proc/PID/stat, field 22); undefined off Linux. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

interface Holder { readonly ino: number; readonly pid: number | undefined; readonly start: string | undefined }

/** The lock's inode and holder; undefined when there is none. */
function readLock(path: string): Holder | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const ino = fstatSync(fd).ino;
    const [pidText, start] = readFileSync(fd, 'utf8').trim().split(' ');
    const pid = Number(pidText);
    return { ino, pid: Number.isInteger(pid) && pid > 0 ? pid : undefined, start: start || undefined };
  } finally {
    closeSync(fd);
  }
}

/**
 * Is the lock still held: by us, or by the live process that took it? Stale: no pid in it, a dead
 * pid, a pid now naming a process started later (reused), or ours when we do not hold it (a
 * container's pid 1 restarted).
 */
function holding(path: string, h: Holder): boolean {
  if (h.pid === undefined) return false;
  if (h.pid === process.pid) return held.get(path) === h.ino;
  if (!alive(h.pid)) return false;
  const now = startOf(h.pid);
  return h.start === undefined || now === undefined || now === h.start;
}

const beside = (path: string, what: string) => `${path}.${what}.${process.pid}.${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`;

/** Create the lock naming us, unless one is there. */
function createLock(path: string): boolean {
  const tmp = beside(path, 'new');
  writeFileSync(tmp, `${process.pid} ${startOf(process.pid) ?? ''}\n`, { flag: 'wx', mode: 0o644 });
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

/** Remove the stale lock whose inode is `ino`: moved aside atomically, and put back if what moved is a new one. */
function removeStale(path: string, ino: number): void {
  const aside = beside(path, 'stale');
  try {
    renameSync(path, aside);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  if (lstatSync(aside).ino !== ino) {
    try { linkSync(aside, path); } catch { /* a third one took its place: it holds the lock */ }
  }
  unlinkSync(aside);
}

/** A lock taken (its inode), or the pid of the live process still holding it after the wait. */
export type Taken = { readonly ino: number } | { readonly heldBy: number };

/**
 * Take the lock at `path`, waiting up to `waitMs` while a live process holds it. A file system
 * error (no such folder, no permission) is thrown as it is.
 */
export async function takeLock(path: string, waitMs: number): Promise<Taken> {
  const until = Date.now() + waitMs;
  for (let stale = 0; stale < STALE_ATTEMPTS;) {
    if (createLock(path)) {
      const { ino } = lstatSync(path);
      held.set(path, ino);
      return { ino };
    }
    const found = readLock(path);
    if (!found) {
      if (Date.now() >= until) break; // released, and taken again by another, again and again
    } else if (!holding(path, found)) {
      removeStale(path, found.ino);
      stale++;
    } else if (Date.now() >= until) {
      return { heldBy: found.pid! };
    } else {
      await sleep(POLL_MS);
    }
  }
  throw new Error('still contested (other processes taking it and dying with it?)');
}

/** Release a lock taken: removed if it is still the one we took. */
export function releaseLock(path: string, ino: number): void {
  if (held.get(path) === ino) held.delete(path);
  try {
    const found = readLock(path);
    if (found?.ino === ino && found.pid === process.pid) unlinkSync(path);
  } catch { /* already gone */ }
}
