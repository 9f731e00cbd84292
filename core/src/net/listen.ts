import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { type Address, formatAddress } from '../address.js';
import { StartupError, UsageError } from '../errors.js';

export interface Listener {
  readonly address: Address;
  readonly server: NetServer;
  /** The address as bound: the real port when 0 was asked for. */
  readonly bound: string;
}

/** Is something accepting on this unix socket path? */
function unixInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
}

/** A socket file left by a server that did not stop cleanly is removed; a live one is an error. */
async function clearStaleUnixSocket(addr: Extract<Address, { kind: 'unix' }>): Promise<void> {
  const stat = await lstat(addr.path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw new StartupError(`cannot bind ${addr.text}: ${addr.path} exists and is not a socket`);
  if (await unixInUse(addr.path)) throw new StartupError(`cannot bind ${addr.text}: address in use`);
  await unlink(addr.path);
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOENT: 'no such directory',
};

/** A connection as libuv accepted it (a TCP or pipe handle), before any net.Socket exists. */
export interface NativeHandle {
  close(): void;
}

export interface ListenOptions {
  /**
   * Take each accepted connection as its native handle instead of a net.Socket: the arbiter
   * only passes connections on to workers, so building a Socket for each would be wasted.
   * This is how node:cluster's round-robin takes them (the listen handle's `onconnection`).
   */
  readonly onHandle?: (handle: NativeHandle) => void;
  /** Join the port's SO_REUSEPORT group (a worker beside the arbiter; Node >= 22.12). */
  readonly reusePort?: boolean;
}

/**
 * Listen on one address. `setting` names where the address came from (`--bind`,
 * `SS_BIND`, ...) for the error when a host name does not resolve.
 */
export async function listen(addr: Address, backlog: number, onConnection: (s: Socket) => void, setting: string, opts: ListenOptions = {}): Promise<Listener> {
  if (addr.kind === 'unix') await clearStaleUnixSocket(addr);
  const server = createServer({ noDelay: true, allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const options = addr.kind === 'unix' ? { path: addr.path, backlog }
      : { host: addr.host, port: addr.port, backlog, ...(opts.reusePort ? { reusePort: true } : {}) };
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    const code = err.code ?? '';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
      throw new UsageError(`invalid ${setting} "${addr.text}": cannot resolve host "${addr.kind === 'tcp' ? addr.host : ''}"`);
    }
    throw new StartupError(`cannot bind ${addr.text}: ${REASONS[code] ?? err.message}`);
  });
  if (opts.onHandle) takeHandles(server, opts.onHandle);
  const info = server.address();
  const port = info !== null && typeof info === 'object' ? info.port : undefined;
  return { address: addr, server, bound: formatAddress(addr, port) };
}

/** Listen on every address, or none: on failure the ones already bound are closed. */
export async function listenAll(addrs: readonly Address[], backlog: number, onConnection: (s: Socket) => void, setting: string, opts: ListenOptions = {}): Promise<Listener[]> {
  const listeners: Listener[] = [];
  try {
    for (const addr of addrs) listeners.push(await listen(addr, backlog, onConnection, setting, opts));
  } catch (err) {
    await closeAll(listeners);
    throw err;
  }
  return listeners;
}

/** From now on, connections `server` accepts go to `onHandle` as native handles (see `ListenOptions.onHandle`). */
export function takeHandles(server: NetServer, onHandle: (handle: NativeHandle) => void): void {
  (server as unknown as { _handle: { onconnection: (err: number, handle?: NativeHandle) => void } })._handle.onconnection = (err, handle) => {
    if (err === 0 && handle) onHandle(handle); // an accept error (EMFILE...) drops that one connection, as net does
  };
}

const closing = new WeakMap<NetServer, Promise<void>>();

/** Stop accepting (again: the same promise). A unix socket's file is removed as its listener closes. */
export async function closeAll(listeners: readonly Listener[]): Promise<void> {
  await Promise.all(listeners.map((l) => {
    let closed = closing.get(l.server);
    if (!closed) {
      // A server that is not listening never emits 'close' again: nothing to wait for.
      closed = l.server.listening ? new Promise<void>((resolve) => l.server.close(() => resolve())) : Promise.resolve();
      closing.set(l.server, closed);
    }
    return closed;
  }));
}
