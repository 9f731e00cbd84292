/**
 * RESP2 replies, typed: a handler returns one of these and the protocol encodes it.
 * - `simple('OK')` → `+OK`; `error('ERR ...')` → `-ERR ...`; an `Error` → `-ERR <message>`
 *   unless the message already starts with an uppercase code word (`WRONGTYPE ...`);
 * - an integer `number` or a `bigint` → `:n`; a Buffer or string → a bulk string;
 * - `null` → the null bulk `$-1`; `NULL_ARRAY` → `*-1`; an array → an array (nested);
 * - `new Raw(bytes)` → the bytes as they are.
 * Anything else (a non-integer number, undefined inside an array, an object) is a TypeError.
 */

export class SimpleString {
  /** `+value\r\n`, made once: a handler returns the same `simple('OK')` for every request. */
  readonly encoded: Buffer;
  constructor(readonly value: string) {
    this.encoded = Buffer.from(`+${oneLine(value)}\r\n`);
  }
}

/**
 * Bytes written as they are, outside RESP's types: what Redis sends a replica for SYNC (an RDB
 * as `$<length>\r\n` and the bytes, no CRLF after them).
 */
export class Raw {
  constructor(readonly encoded: Uint8Array) {}
}

export class ErrorReply {
  constructor(readonly message: string) {}
}

/** The null array, `*-1` (the null bulk is `null`). */
export const NULL_ARRAY: unique symbol = Symbol('resp.NULL_ARRAY');

export type Reply =
  | string | Buffer | Uint8Array | number | bigint | null
  | SimpleString | Raw | ErrorReply | Error | typeof NULL_ARRAY
  | readonly Reply[];

export function simple(value: string): SimpleString {
  return new SimpleString(value);
}

export function error(message: string): ErrorReply {
  return new ErrorReply(message);
}

const CODE_WORD = /^[A-Z][A-Z0-9_]+(?: |$)/;

/** Text of an error or simple string: one line (CR and LF become spaces, as Redis does). */
function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

function errorText(reply: ErrorReply | Error): string {
  const message = oneLine(String(reply.message));
  return reply instanceof ErrorReply || CODE_WORD.test(message) ? message : `ERR ${message}`;
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Bytes `reply` takes encoded. */
export function encodedLength(reply: Reply): number {
  if (typeof reply === 'string') {
    const size = Buffer.byteLength(reply);
    return 1 + digits(size) + 2 + size + 2;
  }
  if (reply instanceof Uint8Array) return 1 + digits(reply.length) + 2 + reply.length + 2;
  if (reply === null) return 5;
  if (typeof reply === 'number') {
    if (!Number.isInteger(reply)) throw new TypeError(`resp: cannot encode the number ${reply} (not an integer)`);
    return 1 + String(reply).length + 2;
  }
  if (typeof reply === 'bigint') return 1 + String(reply).length + 2;
  if (Array.isArray(reply)) {
    let size = 1 + digits(reply.length) + 2;
    for (let i = 0; i < reply.length; i++) size += encodedLength(reply[i] as Reply);
    return size;
  }
  if (reply instanceof SimpleString || reply instanceof Raw) return reply.encoded.length;
  if (reply instanceof ErrorReply || reply instanceof Error) return 1 + Buffer.byteLength(errorText(reply)) + 2;
  if (reply === NULL_ARRAY) return 5;
  throw new TypeError(`resp: cannot encode ${describe(reply)}`);
}

/** Write `reply` into `out` at `offset` (sized by `encodedLength`); the offset after it. */
export function encodeInto(reply: Reply, out: Buffer, offset: number): number {
  if (typeof reply === 'string') {
    offset = header(out, offset, 0x24, Buffer.byteLength(reply));
    offset += out.write(reply, offset);
    return crlf(out, offset);
  }
  if (reply instanceof Uint8Array) {
    offset = header(out, offset, 0x24, reply.length);
    return crlf(out, copy(reply, out, offset));
  }
  if (reply === null) return copy(NULL_BULK, out, offset);
  if (typeof reply === 'number' || typeof reply === 'bigint') return line(out, offset, 0x3a, String(reply));
  if (Array.isArray(reply)) {
    offset = header(out, offset, 0x2a, reply.length);
    for (let i = 0; i < reply.length; i++) offset = encodeInto(reply[i] as Reply, out, offset);
    return offset;
  }
  if (reply instanceof SimpleString || reply instanceof Raw) return copy(reply.encoded, out, offset);
  if (reply instanceof ErrorReply || reply instanceof Error) return line(out, offset, 0x2d, errorText(reply));
  if (reply === NULL_ARRAY) return copy(NULL_ARRAY_BYTES, out, offset);
  throw new TypeError(`resp: cannot encode ${describe(reply)}`);
}

const NULL_BULK = Buffer.from('$-1\r\n');
const NULL_ARRAY_BYTES = Buffer.from('*-1\r\n');

/** `bytes` into `out` at `offset`; the offset after them. A few bytes by hand: cheaper than a native copy. */
function copy(bytes: Uint8Array, out: Buffer, offset: number): number {
  const n = bytes.length;
  if (n > 32) {
    out.set(bytes, offset);
    return offset + n;
  }
  for (let i = 0; i < n; i++) out[offset + i] = bytes[i]!;
  return offset + n;
}

function header(out: Buffer, offset: number, type: number, n: number): number {
  out[offset++] = type;
  const d = digits(n);
  for (let i = offset + d - 1, m = n; i >= offset; i--, m = Math.floor(m / 10)) out[i] = 0x30 + (m % 10);
  return crlf(out, offset + d);
}

function line(out: Buffer, offset: number, type: number, text: string): number {
  out[offset++] = type;
  offset += out.write(text, offset);
  return crlf(out, offset);
}

function crlf(out: Buffer, offset: number): number {
  out[offset] = 0x0d;
  out[offset + 1] = 0x0a;
  return offset + 2;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}
