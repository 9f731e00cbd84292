import { Socket } from 'node:net';
import type { NativeHandle } from './native-handle.js';

/**
 * Reads of plain connections (no PROXY header, no TLS: nothing reads them before the
 * Connection does). Each socket reads into one buffer the whole process shares (net's
 * `onread`), so a read allocates nothing and skips the Readable stream; its bytes are then
 * copied into a slab carved in order. Messages are views of their read, and a view must never
 * be overwritten: slab space is given out once, and a slab is freed by the GC when no view
 * of it is left. Sharing one read buffer is safe because libuv reads a stream and calls back
 * before it reads the next. A socket of an accept stage keeps Node's own reads (see `streamSocket`).
 */

/** As much as Node reads at once on its own path. */
const READ_SIZE = 64 * 1024;
const SLAB_SIZE = 64 * 1024;
/** A read larger than this gets a buffer of its own: a big message does not pin a slab, nor a slab it. */
const OWN_BUFFER_OVER = 16 * 1024;

type Receiver = (this: Socket, chunk: Buffer) => void;
/** Takes a read as a view of the shared read buffer if it copies it before returning (true), else leaves it (false). */
type Borrower = (this: Socket, view: Buffer) => boolean;
const kReceiver = Symbol('receiver');
const kBorrower = Symbol('borrower');
/** Set (null until `onReads`) on the sockets `plainSocket` made. */
type Plain = Socket & { [kReceiver]?: Receiver | null; [kBorrower]?: Borrower | undefined };

let readBuffer: Buffer | undefined;
let slab = Buffer.alloc(0);
let used = 0;

/** net's onread callback: `this` is the socket that read (net calls it as the socket's method). */
function onRead(this: Plain, n: number, buf: Buffer): void {
  let chunk: Buffer;
  if (n > OWN_BUFFER_OVER) {
    // A reader appending to a partial message copies the bytes anyway: it reads them in place.
    const borrow = this[kBorrower];
    if (borrow !== undefined && borrow.call(this, buf.subarray(0, n))) return;
    chunk = Buffer.allocUnsafeSlow(n);
    buf.copy(chunk, 0, 0, n);
  } else {
    if (slab.length - used < n) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      used = 0;
    }
    buf.copy(slab, used, 0, n);
    chunk = slab.subarray(used, used + n);
    used += n;
  }
  this[kReceiver]?.(chunk);
}

/** A socket for an accepted connection that the Connection reads first; it reads nothing until `onReads`. */
export function plainSocket(handle: NativeHandle): Socket {
  const socket = new Socket({
    handle, readable: true, writable: true, allowHalfOpen: true, pauseOnCreate: true,
    onread: { buffer: (readBuffer ??= Buffer.allocUnsafeSlow(READ_SIZE)), callback: onRead },
  } as never);
  (socket as Plain)[kReceiver] = null;
  socket.setNoDelay(true);
  return socket;
}

/** A socket for an accepted connection with Node's own reads ('data' events), as net.Server makes it. */
export function streamSocket(handle: NativeHandle): Socket {
  const socket = new Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as never);
  socket.setNoDelay(true);
  return socket;
}

/**
 * From now on, what `socket` reads goes to `receive` (called with the socket as `this`). With
 * `borrow`, a large read is first offered to it as a view of the shared read buffer, which it
 * takes (true) only if it copies the bytes before it returns.
 */
export function onReads<S extends Socket>(socket: S, receive: (this: S, chunk: Buffer) => void, borrow?: (this: S, view: Buffer) => boolean): void {
  if (!(kReceiver in socket)) {
    socket.on('data', receive);
    return;
  }
  (socket as Plain)[kReceiver] = receive as Receiver;
  (socket as Plain)[kBorrower] = borrow as Borrower | undefined;
  socket.resume();
}
