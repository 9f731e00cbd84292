import { CursorProtocol, ProtocolError, type ClientProtocol } from '@socketserver/core';
import { INLINE_MAX, parseLong } from './request-protocol.js';

/** An error reply (`-ERR ...`) as a client sees it. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** A decoded reply: strings for `+`, Buffers for bulks, numbers (bigint beyond 2^53) for `:`. */
export type RespValue = string | Buffer | number | bigint | null | RespError | RespValue[];

/** A request: the command and its arguments, or one line split on spaces. */
export type RespRequest = string | ReadonlyArray<string | Buffer>;

/**
 * The client's side of RESP2: requests encoded as multibulks, replies decoded into JS values.
 * Parsing keeps its place between calls (the arrays still open, the offset reached), so an
 * incomplete reply is not parsed again; a bulk's size is announced through `expected`.
 * Values are views of the data given (which the framework never overwrites).
 * Pub/sub messages, and the confirmations past the first of a (UN)SUBSCRIBE, are pushes.
 */
export class RespClientProtocol extends CursorProtocol<RespValue, RespRequest> implements ClientProtocol<RespValue, RespRequest> {
  /** Bytes from the reply's start needed before parsing can go on (0: unknown). */
  private need = 0;
  /** Bytes of the pending reply (from `start`) already parsed into `open`. */
  private off = 0;
  /** Arrays begun and not complete: their items so far, and how many are still to come. */
  private open: { items: RespValue[]; left: number }[] = [];
  /** Channels and patterns held, as the confirmations said: in subscriber mode while either is > 0. */
  private channels = 0;
  private patterns = 0;
  /** Replies still to come from the last (UN)SUBSCRIBE answered: one confirmation (or error) per name. */
  private owed = 0;

  /**
   * Subscriber mode as Redis clients see it (RESP2): a (P)SUBSCRIBE or (P)UNSUBSCRIBE is answered
   * with one confirmation per name; the first answers the request, the rest are pushed, as are
   * the `message` and `pmessage` arrays that arrive while subscribed (then the server runs only
   * the subscribe commands and PING, whose replies are no such arrays).
   */
  isPush(message: RespValue, request: RespRequest | undefined): boolean {
    const array = Array.isArray(message) ? message : undefined;
    const kind = array && kindOf(array);
    if (this.owed > 0) {
      if (kind !== undefined && CONFIRMATIONS.has(kind) || message instanceof RespError) {
        this.owed--;
        if (kind !== undefined) this.track(kind, array!);
        return true;
      }
      this.owed = 0; // a server answering otherwise: back in step with the requests
    }
    if (kind === undefined) {
      if (message === 'RESET') this.channels = this.patterns = 0;
      // A subscribe command refused for one name is still answered for the others.
      if (request !== undefined && message instanceof RespError) this.owed = Math.max(0, this.replies(request) - 1);
      return false;
    }
    if (kind === 'message' && array!.length === 3 || kind === 'pmessage' && array!.length === 4) return this.channels + this.patterns > 0;
    if (!CONFIRMATIONS.has(kind)) return false;
    // Counted before this one is: an UNSUBSCRIBE of all is answered once per channel held.
    const expected = request === undefined ? 0 : this.replies(request);
    this.track(kind, array!);
    if (expected === 0) return true; // not what the oldest request asked for: pushed
    this.owed = expected - 1;
    return false;
  }

  /** A confirmation's count is channels plus patterns held: whichever kind it names is the rest. */
  private track(kind: string, message: RespValue[]): void {
    const count = message[2];
    if (typeof count !== 'number') return;
    if (kind === 'subscribe' || kind === 'unsubscribe') this.channels = Math.max(0, count - this.patterns);
    else this.patterns = Math.max(0, count - this.channels);
  }

  /** How many replies `request` brings: 1, or one per name for the subscribe commands (0 for one with no name). */
  private replies(request: RespRequest): number {
    const args = typeof request === 'string' ? request.split(' ').filter((a) => a !== '') : request;
    const name = args[0];
    if (name === undefined || name.length < 9 || name.length > 12) return 1;
    const command = (typeof name === 'string' ? name : name.toString('latin1')).toLowerCase();
    if (command === 'subscribe' || command === 'psubscribe') return args.length - 1;
    if (command === 'unsubscribe') return args.length > 1 ? args.length - 1 : Math.max(1, this.channels);
    if (command === 'punsubscribe') return args.length > 1 ? args.length - 1 : Math.max(1, this.patterns);
    return 1;
  }

  get expected(): number {
    return this.need;
  }

  decodeAt(data: Buffer, start: number): RespValue | undefined {
    if (data.length - start < this.need) return undefined;
    let at = start + this.off;
    for (let guard = data.length - at + 1; guard > 0; guard--) { // a value takes at least one byte
      if (at >= data.length) return this.wait(start, at, 1);
      const cr = data.indexOf(0x0d, at);
      if (cr < 0 || cr + 1 >= data.length) {
        if (data.length - at > INLINE_MAX) throw new ProtocolError('resp: reply line too long');
        return this.wait(start, at, data.length + 1 - at);
      }
      const type = data[at]!;
      let value: RespValue;
      if (type === 0x2b) value = data.toString('utf8', at + 1, cr);
      else if (type === 0x2d) value = new RespError(data.toString('utf8', at + 1, cr));
      else if (type === 0x3a) value = integer(data, at + 1, cr);
      else if (type === 0x24) {
        const len = this.length(data, at + 1, cr);
        if (len >= 0 && data.length < cr + 2 + len + 2) return this.wait(start, at, cr + 2 + len + 2 - at);
        value = len < 0 ? null : data.subarray(cr + 2, cr + 2 + len);
        if (len >= 0) at = cr + 2 + len; // CRLF after the bulk, skipped below
      } else if (type === 0x2a) {
        const count = this.length(data, at + 1, cr);
        if (count > 0) {
          this.open.push({ items: [], left: count });
          at = cr + 2;
          continue;
        }
        value = count < 0 ? null : [];
      } else throw new ProtocolError(`resp: unknown reply type ${JSON.stringify(String.fromCharCode(type))}`);
      at = (type === 0x24 && value !== null ? at : cr) + 2;
      // Close every array this value completes.
      for (;;) {
        const top = this.open[this.open.length - 1];
        if (top === undefined) {
          this.off = this.need = 0;
          this.next = at;
          return value;
        }
        top.items.push(value);
        if (--top.left > 0) break;
        this.open.pop();
        value = top.items;
      }
    }
    throw new Error('resp: reply parser made no progress');
  }

  /** Incomplete: resume at `at`, once `more` bytes from there have come. */
  private wait(start: number, at: number, more: number): undefined {
    this.off = at - start;
    this.need = this.off + more;
    return undefined;
  }

  private length(data: Buffer, from: number, to: number): number {
    const n = parseLong(data, from, to);
    if (n === undefined || n < -1) throw new ProtocolError('resp: invalid length in reply');
    return n;
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

const CONFIRMATIONS = new Set(['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe']);

/** A pub/sub array's first item, when it is short enough to be one. */
function kindOf(message: RespValue[]): string | undefined {
  const first = message[0];
  return Buffer.isBuffer(first) && first.length <= 12 ? first.toString('latin1') : undefined;
}

/** `:n`, a number, or a bigint beyond 2^53. */
function integer(data: Buffer, from: number, to: number): number | bigint {
  const n = parseLong(data, from, to);
  if (n !== undefined) return n;
  const text = data.toString('latin1', from, to);
  if (!/^-?\d+$/.test(text)) throw new ProtocolError(`resp: invalid integer reply ${JSON.stringify(text)}`);
  return BigInt(text);
}

/** The protocol for a client of a RESP server (`createClient`, `ss send`). */
export function respClient(_cfg?: unknown): RespClientProtocol {
  return new RespClientProtocol();
}
