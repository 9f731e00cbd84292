// A unix socket bound at its configured path itself, so that `ss -xl`, lsof and /proc/net/unix
// name it as configured, without ever removing another live server's socket.
//
// Deciding that a socket file is stale (a connect is refused), removing it and binding the path
// are three steps: two servers starting at once on a stale file could each remove it, the slower
// one removing the socket the faster one just bound. A lock file beside the socket (`PATH.lock`)
// orders those steps between servers, and the stop's removal too.
//
// libuv removes the path a socket was bound at when the handle that bound it is closed, whatever
// the path names by then, and a shared socket's first listening handle is closed long before the
// stop (once a worker accepts on the socket). So the socket is bound by a handle that never
// listens and is never closed (see bindPipe); the server listens on its descriptor, and the stop
// removes the file itself, under the lock, only while the path still names our socket.
import { lstat, unlink } from 'node:fs/promises';
import { createConnection, type Server as NetServer } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { Address } from '../address.js';
import { errorMessage, type StartupError } from '../errors.js';
import { releaseLock, takeLock } from './file-lock.js';
import { bindPipe, type BoundPipe } from './native-handle.js';

type UnixAddress = Extract<Address, { kind: 'unix' }>;

/** A file as the kernel identifies it: what a stop compares before removing a socket file. */
export interface FileId { readonly dev: number; readonly ino: number }

/** How long a start waits for another server holding the lock (held only while binding or removing). */
const LOCK_WAIT_MS = 5_000;
/** How long a stop waits for it: past that, the socket file stays (the next start replaces it as stale). */
const STOP_LOCK_WAIT_MS = 1_000;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'EIO';
/** A file system error by its code (its message names temporary files); anything else by its message. */
const why = (err: unknown) => (err as NodeJS.ErrnoException).code ?? errorMessage(err);

/** The failure of a bind, as `cannot bind ADDRESS: ...` says it: a reason for an errno code, or the text given. */
export type BindFailure = (code: string, message?: string) => StartupError;

/**
 * A socket file left by a server that did not stop cleanly is removed; a live one is an error.
 * Only a refused connection means nobody listens: a full backlog (EAGAIN) is a live server.
 */
async function clearStale(addr: UnixAddress, fail: BindFailure): Promise<void> {
  const stat = await lstat(addr.path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw fail('', `${addr.path} exists and is not a socket`);
  const found = await new Promise<string | undefined>((resolve) => {
    const probe = createConnection({ path: addr.path });
    probe.once('connect', () => { probe.destroy(); resolve(undefined); });
    probe.once('error', (err) => resolve(code(err)));
  });
  if (found === 'ENOENT') return; // removed meanwhile
  if (found !== 'ECONNREFUSED') throw fail(found === undefined || found === 'EAGAIN' ? 'EADDRINUSE' : found);
  await unlink(addr.path).catch((err: unknown) => {
    if (code(err) !== 'ENOENT') throw fail('', `cannot remove the stale socket ${addr.path}: ${why(err)}`);
  });
}

/** listen(2) on a descriptor (the backlog is only taken as an argument: `{ fd, backlog }` ignores it). */
function listenOn(server: NetServer, fd: number, backlog: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, backlog, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A unix socket bound at its path: `binder` bound it and is kept (closing it would remove the path). */
export interface UnixBinding { readonly file: FileId; readonly binder: BoundPipe }

/**
 * Bind `server` at `addr.path` itself and listen. Under the lock, a stale socket file is removed,
 * a live one is `address in use` (as is a file that appears before the bind: bind(2) never
 * replaces one), and the socket's file identity is taken for the stop to check.
 */
export async function bindUnixSocket(server: NetServer, addr: UnixAddress, backlog: number, fail: BindFailure): Promise<UnixBinding> {
  const lock = `${addr.path}.lock`;
  const taken = await takeLock(lock, LOCK_WAIT_MS).catch((err: unknown) => {
    throw code(err) === 'ENOENT' ? fail('ENOENT') : fail('', `cannot take the lock ${lock}: ${why(err)}`);
  });
  if ('heldBy' in taken) {
    throw fail('', `the lock ${lock} is held by pid ${taken.heldBy} for over ${LOCK_WAIT_MS / 1000} s (remove it if that process is not ss)`);
  }
  try {
    await clearStale(addr, fail);
    const binder = bindPipe(addr.path);
    if (typeof binder === 'number') throw fail(getSystemErrorName(binder));
    try {
      // The file's identity is taken before listen(2): the caller installs its accept handler when
      // this resolves, and a turn of the event loop in between (this lstat after listening) would
      // let net accept a connection nobody routes.
      const { dev, ino } = await lstat(addr.path);
      await listenOn(server, binder.fd, backlog);
      return { file: { dev, ino }, binder };
    } catch (err) {
      // The server closed the descriptor; the file we made is removed (`binder` is never closed).
      await unlink(addr.path).catch(() => {});
      throw fail(code(err), (err as Error).message);
    }
  } finally {
    releaseLock(lock, taken.ino);
  }
}

/** At stop: remove the socket file, under the lock, if the path still names `file`. */
export async function removeUnixSocket(path: string, file: FileId): Promise<void> {
  const lock = `${path}.lock`;
  const taken = await takeLock(lock, STOP_LOCK_WAIT_MS).catch(() => undefined);
  if (!taken || 'heldBy' in taken) return; // cannot be ordered with a start: left, as stale
  try {
    const now = await lstat(path).catch(() => undefined);
    if (now && now.dev === file.dev && now.ino === file.ino) await unlink(path).catch(() => {});
  } finally {
    releaseLock(lock, taken.ino);
  }
}
