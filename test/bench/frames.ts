// Request payloads and reply framing shared by the bench clients (loadgen, idle-clients).
import { randomBytes } from 'node:crypto';

export type Proto = 'echo' | 'line' | 'netstring';
export const PROTOS: readonly Proto[] = ['echo', 'line', 'netstring'];

const NL = 0x0a;
const COLON = 0x3a;
const COMMA = 0x2c;

/** `n` random printable ASCII bytes (0x20..0x7e): never a `\n`, so any payload is a valid line. */
export function randomPrintable(n: number): Buffer {
  const out = randomBytes(n);
  for (let i = 0; i < n; i++) out[i] = 0x20 + (out[i]! % 95);
  return out;
}

/** One request on the wire. The servers echo, so it is also the exact expected reply. */
export function frame(proto: Proto, payload: Buffer): Buffer {
  if (proto === 'echo') return payload;
  if (proto === 'line') return Buffer.concat([payload, Buffer.of(NL)]);
  return Buffer.concat([Buffer.from(`${payload.length}:`, 'latin1'), payload, Buffer.of(COMMA)]);
}

/**
 * `count` requests with distinct random payloads of `size` bytes, back to back in one
 * buffer: request i is `pool[i * frameSize, (i + 1) * frameSize)`, so any run of
 * consecutive requests is one contiguous slice (one write, no copying).
 */
export function requestPool(proto: Proto, size: number, count: number): { pool: Buffer; frameSize: number } {
  const payloads = randomPrintable(size * count);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) frames.push(frame(proto, payloads.subarray(i * size, (i + 1) * size)));
  return { pool: Buffer.concat(frames), frameSize: frames[0]!.length };
}

export const INCOMPLETE = -1;
export const MALFORMED = -2;

/**
 * End (exclusive) of the line/netstring frame starting at `pos` in `buf[0, len)`, or
 * INCOMPLETE, or MALFORMED (bad netstring header or missing `,`). No byte is looked at
 * twice except a netstring's few header digits.
 */
export function frameEnd(proto: Proto, buf: Buffer, pos: number, len: number): number {
  if (proto === 'line') {
    const nl = buf.indexOf(NL, pos);
    return nl === -1 || nl >= len ? INCOMPLETE : nl + 1;
  }
  let n = 0;
  let i = pos;
  for (; i < len; i++) {
    const c = buf[i]!;
    if (c === COLON) break;
    if (c < 0x30 || c > 0x39 || i - pos > 9) return MALFORMED;
    n = n * 10 + (c - 0x30);
  }
  if (i === len) return INCOMPLETE;
  if (i === pos) return MALFORMED;
  const end = i + n + 2;
  if (end > len) return INCOMPLETE;
  return buf[end - 1] === COMMA ? end : MALFORMED;
}
