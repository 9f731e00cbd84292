import { createServer, isIPv6, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { type Address, formatAddress } from '../address.js';
import { unixSocketPath } from '../activation.js';
import { StartupError, UsageError } from '../errors.js';
import { onAccepted, type BoundPipe, type NativeHandle } from './native-handle.js';
import { bindUnixSocket, removeUnixSocket, type FileId, type UnixBinding } from './unix-socket.js';

export interface Listener {
  readonly address: Address;
  readonly server: NetServer;
  /** The address as bound: the real port when 0 was asked for. */
  readonly bound: string;
  /** A unix socket's file as bound: removed on close only while the path still names it. */
  readonly file?: FileId;
  /** The handle that bound a unix socket: never closed, since closing it removes the path (see unix-socket.ts). */
  readonly binder?: BoundPipe;
  /** A socket inherited as a descriptor (fd://N): never bound here, and its file never removed here. */
  readonly inherited?: { readonly fd: number; readonly name?: string; readonly kind: 'tcp' | 'unix' };
}

/** Longest unix socket path: sun_path's 108 bytes on Linux (which takes one with no NUL at the end). */
const MAX_UNIX_PATH = 108;

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EEXIST: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOENT: 'no such directory',
};

/** Why an inherited descriptor cannot be listened on (libuv says EINVAL for a closed fd, a file, a UDP socket...). */
const FD_REASONS: Record<string, string> = {
  EINVAL: 'not an open TCP or unix stream socket',
  EBADF: 'not an open descriptor',
  ENOTSOCK: 'not a socket',
  EOPNOTSUPP: 'a socket that cannot listen',
};

function bindError(addr: Address, code: string, message = code): StartupError {
  if (addr.kind === 'fd') return new StartupError(`cannot listen on ${addr.text}: ${FD_REASONS[code] ?? REASONS[code] ?? message}`);
  return new StartupError(`cannot bind ${addr.text}: ${REASONS[code] ?? message}`);
}

export interface ListenOptions {
  /**
   * Take each accepted connection as its native handle instead of a net.Socket: the arbiter
   * only passes connections on to workers, so building a Socket for each would be wasted.
   * This is how node:cluster's round-robin takes them (the listen handle's `onconnection`).
   */
  readonly onHandle?: (handle: NativeHandle) => void;
  /**
   * Listen in an SO_REUSEPORT group (Node >= 22.12) on a TCP address: `new` starts one, failing
   * like a plain bind if anything listens there already; `join` adds a socket to ours.
   */
  readonly reusePort?: 'new' | 'join';
}

interface BindOptions { host?: string | undefined; port?: number; fd?: number; backlog: number; reusePort?: boolean }

/** listen(2) with `options`; failures as one line naming the address. */
function bind(server: NetServer, addr: Address, setting: string, options: BindOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    // Node takes a descriptor's backlog only as an argument: `{ fd, backlog }` listens with 511.
    if (options.fd !== undefined) server.listen({ fd: options.fd }, options.backlog, done);
    else server.listen(options, done);
  }).catch((err: NodeJS.ErrnoException) => {
    const code = err.code ?? '';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
      throw new UsageError(`invalid ${setting} "${addr.text}": cannot resolve host "${addr.kind === 'tcp' ? addr.host : ''}"`);
    }
    throw bindError(addr, code, err.message);
  });
}

const closed = (server: NetServer) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * Listen on one address. `setting` names where the address came from (`--bind`,
 * `SS_BIND`, ...) for the error when a host name does not resolve.
 */
export async function listen(addr: Address, backlog: number, onConnection: (s: Socket) => void, setting: string, opts: ListenOptions = {}): Promise<Listener> {
  const server = createServer({ noDelay: true, allowHalfOpen: true }, onConnection);
  let unix: UnixBinding | undefined;
  if (addr.kind === 'fd') return listenInherited(server, addr, setting, backlog, opts);
  if (addr.kind === 'unix') {
    // A longer one would be bound cut short, at a path nobody asked for.
    const bytes = Buffer.byteLength(addr.path);
    if (bytes > MAX_UNIX_PATH) throw new UsageError(`invalid ${setting} "${addr.text}": the path is ${bytes} bytes, a unix socket's is at most ${MAX_UNIX_PATH}`);
    unix = await bindUnixSocket(server, addr, backlog, (code, message) => bindError(addr, code, message));
  } else {
    let port = addr.port;
    if (opts.reusePort === 'new') {
      // The group admits any socket of this user with SO_REUSEPORT: first make sure nobody
      // listens there (a plain bind fails if so), then start it on the same port.
      const check = createServer();
      await bind(check, addr, setting, { host: addr.host, port, backlog: 1 });
      port = (check.address() as AddressInfo).port;
      await closed(check);
    }
    await bind(server, addr, setting, { host: addr.host, port, backlog, ...(opts.reusePort ? { reusePort: true } : {}) });
  }
  // Before any other turn of the loop: libuv accepts on every turn, and what net accepts goes to
  // `onConnection` until then.
  if (opts.onHandle) takeHandles(server, opts.onHandle);
  const info = server.address();
  const port = info !== null && typeof info === 'object' ? info.port : undefined;
  return { address: addr, server, bound: formatAddress(addr, port), ...unix };
}

/**
 * Listen on a socket we were handed (systemd, or a parent process): listen(2) again on it (the
 * backlog), never bind. Its address, for logs and info, is what the kernel says it is.
 */
async function listenInherited(server: NetServer, addr: Extract<Address, { kind: 'fd' }>, setting: string, backlog: number, opts: ListenOptions): Promise<Listener> {
  await bind(server, addr, setting, { fd: addr.fd, backlog });
  if (opts.onHandle) takeHandles(server, opts.onHandle);
  const info = server.address();
  let bound: string;
  let kind: 'tcp' | 'unix';
  if (info !== null && typeof info === 'object') {
    kind = 'tcp';
    bound = isIPv6(info.address) ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
  } else {
    // A pipe handle opened on a descriptor does not know its path: ask the kernel.
    kind = 'unix';
    const path = unixSocketPath(addr.fd);
    bound = path ? `unix:${path}` : addr.text;
  }
  return { address: addr, server, bound, inherited: { fd: addr.fd, kind, ...(addr.name ? { name: addr.name } : {}) } };
}

/** The log line for a listener: `listening on ADDRESS`, and the descriptor when inherited. */
export function listeningMessage(l: Listener): string {
  const from = l.inherited ? ` (inherited ${l.address.text}${l.inherited.name ? ` "${l.inherited.name}"` : ''})` : '';
  return `listening on ${l.bound}${from}`;
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

/**
 * Resolves once the event loop has been through its next poll phase, in which libuv accepts every
 * connection already waiting in a readable listening socket's queue (it accepts until EAGAIN).
 * A graceful stop waits for this before closing its listeners: closing resets the connections the
 * kernel had queued, which a client (or a load balancer that already sent them a request) sees as
 * a reset rather than as a refusal it can retry elsewhere.
 */
export const queuedAccepted = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/** From now on, connections `server` accepts go to `onHandle` as native handles (see `ListenOptions.onHandle`). */
export function takeHandles(server: NetServer, onHandle: (handle: NativeHandle) => void): void {
  onAccepted(server, (err, handle) => {
    if (err === 0 && handle) onHandle(handle); // an accept error (EMFILE...) drops that one connection, as net does
  });
}

const closing = new WeakMap<NetServer, Promise<void>>();

/**
 * Stop accepting (again: the same promise). A unix socket's file is removed, unless another
 * server has bound that path since (then it names another socket).
 */
export async function closeAll(listeners: readonly Listener[]): Promise<void> {
  await Promise.all(listeners.map((l) => {
    let done = closing.get(l.server);
    if (!done) {
      // A server that is not listening (a worker took it over) never emits 'close' again: nothing to wait for.
      done = Promise.all([l.server.listening ? closed(l.server) : undefined, l.file && l.address.kind === 'unix' ? removeUnixSocket(l.address.path, l.file) : undefined]).then(() => {});
      closing.set(l.server, done);
    }
    return done;
  }));
}
