import { randomFillSync } from 'node:crypto';
import { ProtocolError } from '@socketserver/core';

// RFC 6455 §5.2: opcodes.
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

// RFC 6455 §7.4.1: the close codes this side sends.
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

/** Largest payload of a control frame (§5.5). */
export const MAX_CONTROL = 125;

/** A message as a handler gets it: text as a string, binary as a Buffer. */
export type Message = string | Buffer;
/** A reply or push: a string goes out as a text frame, bytes as a binary one. */
export type Reply = string | Buffer | Uint8Array;

/** Bytes of the header of a frame of `length` payload bytes: 2, 4 or 10, and 4 more for a mask. */
export function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Write a final frame's header (FIN, `opcode`, `length`, no mask) at `offset`; return where its mask or payload goes. */
export function writeHeader(out: Buffer, offset: number, opcode: number, length: number, masked: boolean): number {
  const mask = masked ? 0x80 : 0;
  out[offset] = 0x80 | opcode;
  if (length < 126) {
    out[offset + 1] = mask | length;
    return offset + 2;
  }
  if (length < 0x10000) {
    out[offset + 1] = mask | 126;
    out[offset + 2] = length >>> 8;
    out[offset + 3] = length & 0xff;
    return offset + 4;
  }
  out[offset + 1] = mask | 127;
  out.writeUInt32BE(Math.floor(length / 0x100000000), offset + 2);
  out.writeUInt32BE(length >>> 0, offset + 6);
  return offset + 10;
}

/** XOR `buf[from..to)` in place with the 4-byte mask at `buf[maskAt..maskAt+4)` (§5.3). */
export function unmask(buf: Buffer, from: number, to: number, maskAt: number): void {
  const m0 = buf[maskAt]!, m1 = buf[maskAt + 1]!, m2 = buf[maskAt + 2]!, m3 = buf[maskAt + 3]!;
  if ((m0 | m1 | m2 | m3) === 0) return;
  let i = from;
  for (const last = to - 3; i < last; i += 4) {
    buf[i] ^= m0;
    buf[i + 1] ^= m1;
    buf[i + 2] ^= m2;
    buf[i + 3] ^= m3;
  }
  for (let k = 0; i < to; i++, k++) buf[i] ^= k === 0 ? m0 : k === 1 ? m1 : m2;
}

/** Copy `src[from..to)` into `dst` at `at`, unmasked with the mask at `src[maskAt..maskAt+4)`: one pass, the source untouched. */
export function unmaskInto(src: Buffer, from: number, to: number, maskAt: number, dst: Buffer, at: number): void {
  const mask = [src[maskAt]!, src[maskAt + 1]!, src[maskAt + 2]!, src[maskAt + 3]!];
  for (let i = from, j = at, k = 0; i < to; i++, j++, k = (k + 1) & 3) dst[j] = src[i]! ^ mask[k]!;
}

/** Random bytes for client masks, drawn in blocks (a mask per frame, as §5.3 asks, without a call per frame). */
const POOL = Buffer.allocUnsafe(4096);
let poolUsed = POOL.length;

/** Write a fresh random mask at `out[at..at+4)`. */
export function writeMask(out: Buffer, at: number): void {
  if (poolUsed === POOL.length) {
    randomFillSync(POOL);
    poolUsed = 0;
  }
  POOL.copy(out, at, poolUsed, poolUsed + 4);
  poolUsed += 4;
}

/** A whole control frame (close, ping, pong) with `payload`, masked when a client sends it. */
export function controlFrame(opcode: number, payload: Uint8Array, masked: boolean): Buffer {
  const out = Buffer.allocUnsafe(headerLength(payload.length, masked) + payload.length);
  let at = writeHeader(out, 0, opcode, payload.length, masked);
  if (masked) {
    writeMask(out, at);
    at += 4;
  }
  out.set(payload, at);
  if (masked) unmask(out, at, out.length, at - 4);
  return out;
}

/** A close frame with `code` and a short `reason` (none: an empty close, as when the peer sent no code). */
export function closeFrame(code: number | undefined, reason = '', masked = false): Buffer {
  if (code === undefined) return controlFrame(OP_CLOSE, Buffer.alloc(0), masked);
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return controlFrame(OP_CLOSE, payload.subarray(0, Math.min(payload.length, MAX_CONTROL)), masked);
}

/** Codes a peer may send in a close frame (§7.4: not 1004-1006 or 1015, which are never on the wire). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Malformed input: the connection is closed after a close frame with `code` (§7.1.7), and the
 * reason logged. The frame's reason is the message without the `websocket: ` prefix.
 */
export function closeError(code: number, why: string, masked = false): ProtocolError {
  return new ProtocolError(`websocket: ${why} (close ${code})`, { reply: closeFrame(code, why, masked) });
}

/**
 * How many bytes at the end of `buf[from..to)` begin a UTF-8 sequence not complete yet (0 to
 * 3): a text message in fragments is checked up to there, the rest with the next fragment.
 * Whether those bytes are valid is left to that check.
 */
export function incompleteTail(buf: Buffer, from: number, to: number): number {
  for (let k = 1; k <= 3 && to - k >= from; k++) {
    const b = buf[to - k]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const needs = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return needs > k ? k : 0;
  }
  return 0;
}
