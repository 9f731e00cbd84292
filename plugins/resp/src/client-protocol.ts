import { CursorProtocol, ProtocolError } from '@socketserver/core';
import { INLINE_MAX, parseLong } from './request-protocol.js';

/** An error reply (`-ERR ...`) as a client sees it. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A decoded reply: strings for `+`, Buffers for bulks, numbers (bigint beyond 2^53) for `:`. */
export type RespValue = string | Buffer | number | bigint | null | RespError | RespValue[];

/** A request: the command and its arguments, or one line split on spaces. */
export type RespRequest = string | ReadonlyArray<string | Buffer>;

const INCOMPLETE = Symbol('incomplete');

/**
 * The client's side of RESP2: requests encoded as multibulks, replies decoded into JS values.
 * An incomplete reply is parsed again from its start when more arrives, but not before the
 * bytes it was missing have come (`expected`), so a large bulk is read once.
 */
export class RespClientProtocol extends CursorProtocol<RespValue, RespRequest> {
  private need = 0;
  private at = 0;
  /** Where the reply being parsed begins. */
  private origin = 0;

  get expected(): number {
    return this.need;
  }

  decodeAt(data: Buffer, start: number): RespValue | undefined {
    if (data.length - start < this.need) return undefined;
    this.at = this.origin = start;
    const value = this.value(data);
    if (value === INCOMPLETE) return undefined;
    this.need = 0;
    this.next = this.at;
    return value;
  }

  /** The value at `this.at`, moving past it; INCOMPLETE (with `need` set) if not all here. */
  private value(data: Buffer): RespValue | typeof INCOMPLETE {
    const start = this.at;
    if (start >= data.length) return this.short(data, start + 1);
    const cr = data.indexOf(0x0d, start);
    if (cr < 0 || cr + 1 >= data.length) {
      if (data.length - start > INLINE_MAX) throw new ProtocolError('resp: reply line too long');
      return this.short(data, data.length + 1);
    }
    const type = data[start]!;
    this.at = cr + 2;
    switch (type) {
      case 0x2b: return data.toString('utf8', start + 1, cr);
      case 0x2d: return new RespError(data.toString('utf8', start + 1, cr));
      case 0x3a: {
        const n = parseLong(data, start + 1, cr);
        if (n !== undefined) return n;
        const text = data.toString('latin1', start + 1, cr);
        if (!/^-?\d+$/.test(text)) throw new ProtocolError(`resp: invalid integer reply ${JSON.stringify(text)}`);
        return BigInt(text);
      }
      case 0x24: {
        const len = this.length(data, start + 1, cr);
        if (len < 0) return null;
        const end = this.at + len;
        if (data.length < end + 2) return this.short(data, end + 2);
        this.at = end + 2;
        return data.subarray(end - len, end);
      }
      case 0x2a: {
        const count = this.length(data, start + 1, cr);
        if (count < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.value(data);
          if (item === INCOMPLETE) return item;
          items.push(item);
        }
        return items;
      }
      default:
        throw new ProtocolError(`resp: unknown reply type ${JSON.stringify(String.fromCharCode(type))}`);
    }
  }

  private length(data: Buffer, from: number, to: number): number {
    const n = parseLong(data, from, to);
    if (n === undefined || n < -1) throw new ProtocolError('resp: invalid length in reply');
    return n;
  }

  /** Not complete: wait until `data` reaches `end` (counted from the reply's start). */
  private short(_data: Buffer, end: number): typeof INCOMPLETE {
    this.need = end - this.origin;
    return INCOMPLETE;
  }

  encodedLength(request: RespRequest): number {
    return this.encode(request).length;
  }

  encodeInto(request: RespRequest, out: Buffer, offset: number): number {
    const bytes = this.encode(request);
    out.set(bytes, offset);
    return offset + bytes.length;
  }

  override encode(request: RespRequest): Buffer {
    const args = typeof request === 'string' ? request.split(' ').filter((a) => a !== '') : request;
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const arg of args) {
      const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
    }
    return Buffer.concat(parts);
  }
}

const CRLF = Buffer.from('\r\n');

/** The protocol for a client of a RESP server (`createClient`, `ss send`). */
export function respClient(_cfg?: unknown): RespClientProtocol {
  return new RespClientProtocol();
}
