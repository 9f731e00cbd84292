// Node's private `_handle` (the libuv handle under a net object), and `net._createServerHandle`
// (a bind without listen), reached from this file only: what they are used for has no public
// API. Each use is one small typed function, so that a Node release that changes it breaks
// here, in one place.
import * as net from 'node:net';
import type { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { StartupError } from '../errors.js';

/** A socket as libuv holds it (a TCP or pipe handle), before or without any net object around it. */
export interface NativeHandle {
  close(): void;
}

/** What libuv calls for each connection a listening handle accepts: `err` is 0 when the accept worked. */
type OnConnection = (err: number, handle?: NativeHandle) => void;

interface Wrapped<H> { _handle: H }

/** The handle of a listening server: what is passed to another process. */
export function listeningHandle(server: NetServer): NativeHandle {
  return (server as unknown as Wrapped<NativeHandle>)._handle;
}

/**
 * From now on, each connection a listening server accepts goes to `onConnection` as the handle
 * libuv accepted, and no net.Socket is built for it (as node:cluster's round-robin takes them).
 */
export function onAccepted(server: NetServer, onConnection: OnConnection): void {
  (server as unknown as Wrapped<{ onconnection: OnConnection }>)._handle.onconnection = onConnection;
}

/**
 * Why the peer's certificate chain did not verify, after a handshake (null if it did, or if
 * none was asked for): tls.Server checks it, a TLSSocket made around an accepted socket does not.
 */
export function peerVerifyError(tls: TLSSocket): Error | null {
  return (tls as unknown as Partial<Wrapped<{ verifyError?(): Error | null }>>)._handle?.verifyError?.() ?? null;
}

/** A unix socket bound at a path and not listening: only its descriptor is for use. */
export interface BoundPipe { readonly fd: number }

type CreateServerHandle = (address: string, port: number, addressType: number) => BoundPipe | number;

/**
 * bind(2) a unix stream socket at `path` without listen(2), as node:cluster's primary binds a
 * shared one (`net._createServerHandle`): the socket, or the (negative) errno. libuv removes
 * `path` when this handle is closed, whatever the path names by then, so it is never closed:
 * the process exits with it open (process.exit, as `ss` exits, closes no handle; an event loop
 * running dry would). Listen on its `fd` instead.
 */
export function bindPipe(path: string): BoundPipe | number {
  const create = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof create !== 'function') throw new StartupError(`cannot bind ${path}: this Node (${process.versions.node}) has no net._createServerHandle`);
  return create(path, -1, -1);
}

/**
 * Stop reading a bound UDP socket in this process (libuv's recv_stop): the arbiter keeps it to
 * hand to workers, which read it, and must not take their datagrams. dgram keeps its handle
 * under a private symbol ('state symbol'), as node:cluster reaches it; its `_handle` is deprecated.
 */
export function stopReceiving(socket: import('node:dgram').Socket): void {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = key === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { recvStop?(): number } } | undefined>)[key];
  if (typeof state?.handle?.recvStop !== 'function') throw new StartupError(`this Node (${process.versions.node}) keeps a UDP socket's handle where ss does not look: udp:// needs --workers 0 here`);
  state.handle.recvStop();
}
