// The client side of RFC 6455 for the bench's WebSocket generators (ws-echo.ts, fanout.ts
// --proto websocket), by hand on raw sockets so that it costs the generator little: the
// opening handshake, checked; masked text frames written into buffers the generator builds
// once; the server's unmasked text frames as the bytes they must be.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_TEXT = 0x1;

/** Bytes of a frame header for `length` payload bytes (2 or 4 here: the bench's messages are under 64 KiB), and 4 for a mask. */
export function headerLength(length: number, masked: boolean): number {
  if (length >= 0x10000) throw new Error('ws-wire: messages of 64 KiB or more are not needed here');
  return (length < 126 ? 2 : 4) + (masked ? 4 : 0);
}

/** Write a final text frame's header at `at`; return where the mask (masked) or the payload goes. */
function writeHeader(out: Buffer, at: number, length: number, masked: boolean): number {
  const m = masked ? 0x80 : 0;
  out[at] = 0x80 | OP_TEXT;
  if (length < 126) {
    out[at + 1] = m | length;
    return at + 2;
  }
  out[at + 1] = m | 126;
  out.writeUInt16BE(length, at + 2);
  return at + 4;
}

/** The header of a client's text frame of `length` bytes, its mask zero (to be written by `mask`). */
export function clientTextHeader(length: number): Buffer {
  const out = Buffer.alloc(headerLength(length, true));
  writeHeader(out, 0, length, true);
  return out;
}

/** The frame a server sends for the text `payload`: unmasked. */
export function serverText(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerLength(payload.length, false) + payload.length);
  payload.copy(out, writeHeader(out, 0, payload.length, false));
  return out;
}

/** The frame a client sends for the text `payload`: masked with a fresh random mask. */
export function clientText(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(headerLength(payload.length, true) + payload.length);
  const at = writeHeader(out, 0, payload.length, true) + 4;
  payload.copy(out, at);
  mask(out, at - 4, at, out.length);
  return out;
}

/** Random bytes for masks, drawn in blocks. */
const POOL = Buffer.allocUnsafe(4096);
let used = POOL.length;

/** A fresh random mask at `buf[maskAt..maskAt+4)`, and `buf[from..to)` XORed with it (§5.3). */
export function mask(buf: Buffer, maskAt: number, from: number, to: number): void {
  if (used === POOL.length) {
    randomFillSync(POOL);
    used = 0;
  }
  const m0 = (buf[maskAt] = POOL[used]!), m1 = (buf[maskAt + 1] = POOL[used + 1]!);
  const m2 = (buf[maskAt + 2] = POOL[used + 2]!), m3 = (buf[maskAt + 3] = POOL[used + 3]!);
  used += 4;
  let i = from;
  for (; i + 3 < to; i += 4) {
    buf[i] ^= m0;
    buf[i + 1] ^= m1;
    buf[i + 2] ^= m2;
    buf[i + 3] ^= m3;
  }
  for (let k = 0; i < to; i++, k++) buf[i] ^= k === 0 ? m0 : k === 1 ? m1 : m2;
}

/**
 * One connection's opening handshake (§4.1): `request` to write once connected, then `feed`
 * each read until the server's head is in and checked.
 */
export class Handshake {
  readonly request: Buffer;
  private readonly accept: string;
  private head = '';

  constructor(host: string, port: number) {
    const key = randomBytes(16).toString('base64');
    this.accept = createHash('sha1').update(key + GUID).digest('base64');
    this.request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`, 'latin1');
  }

  /**
   * The server's answer so far: -1 while its head is not all in, else where the frames begin in
   * `buf` (up to `len`). Throws an Error saying what is wrong with a head that is not a 101
   * with the right Sec-WebSocket-Accept.
   */
  feed(buf: Buffer, len: number): number {
    const before = this.head.length;
    this.head += buf.toString('latin1', 0, len);
    const end = this.head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (this.head.length > 8192) throw new Error('handshake answer over 8 KiB');
      return -1;
    }
    const lines = this.head.slice(0, end).split('\r\n');
    if (!/^HTTP\/1\.1 101\b/.test(lines[0]!)) throw new Error(`handshake answered ${JSON.stringify(lines[0])}`);
    const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))?.replace(/^[^:]*:\s*/, '').trim();
    if (accept !== this.accept) throw new Error(`handshake Sec-WebSocket-Accept ${JSON.stringify(accept)}, expected ${this.accept}`);
    return end + 4 - before;
  }
}
