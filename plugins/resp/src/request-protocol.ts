import { CursorProtocol, ProtocolError } from '@socketserver/core';
import { encodedLength, encodeInto, type Reply } from './reply.js';
import { splitArgs } from './split-args.js';

/** Redis's PROTO_INLINE_MAX_SIZE: an inline request, or a `*`/`$` line, without its newline. */
export const INLINE_MAX = 64 * 1024;
/**
 * What one argument of a multibulk costs once the message is built (its Buffer view and array
 * slot, about 104 bytes in V8) and while it is read (its span): counted against
 * max_client_memory, as Redis counts an argument's object beside its bytes.
 */
const ARG_OVERHEAD = 128;

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;

/**
 * RESP2 requests as Redis reads them (`processInlineBuffer`/`processMultibulkBuffer` in
 * redis `src/networking.c`): a message starting with `*` is a multibulk
 * (`*N\r\n$len\r\n<bytes>\r\n...`), anything else an inline command line. Each message is
 * the command and its arguments, `Buffer[]`. Empty lines, `*0` and negative counts are
 * consumed without a message (undefined with `next` past them), as Redis does.
 *
 * Errors are Redis's, word for word, sent as the connection's last reply (`ProtocolError`'s
 * `reply`) before it is closed. State is kept between calls relative to the message's
 * start: the offset reached, where the newline search resumes, the arguments' spans; a
 * bulk's length is announced through `expected` so a large value is held, not rescanned.
 */
export class RespProtocol extends CursorProtocol<Buffer[], Reply> {
  readonly encodesNull = true;
  /** Bytes of the pending message (from `start`) already parsed. */
  private off = 0;
  /** Where the search for the current line's end resumes, relative to `start`. */
  private scan = 0;
  /** Multibulk: arguments still to read; -1 when not inside one. */
  private left = -1;
  /** Length of the bulk being read; -1 until its `$` line is parsed. */
  private bulk = -1;
  /** Start and length (relative to `start`) of each argument read so far. */
  private spans: number[] = [];
  private frame = 0;

  constructor(readonly maxBulk: number, readonly maxMultibulk: number) {
    super();
  }

  get expected(): number {
    return this.frame;
  }

  /** The arguments of the multibulk being read, as they will cost once built. */
  get held(): number {
    return (this.spans.length >> 1) * ARG_OVERHEAD;
  }

  decodeAt(data: Buffer, start: number): Buffer[] | undefined {
    for (;;) {
      const at = start + this.off;
      if (at >= data.length) return undefined;
      if (this.left < 0) {
        if (data[at] === STAR) {
          if (!this.count(data, start, at)) return undefined;
          if (this.left < 0) return this.ignored(start);
          continue;
        }
        const args = this.inline(data, start, at);
        if (args === undefined) return undefined;
        if (args !== null) return args;
        return this.ignored(start);
      }
      if (this.bulk < 0 && !this.bulkLength(data, start, at)) return undefined;
      const end = start + this.off + this.bulk + 2;
      if (data.length < end) {
        this.frame = end - start;
        return undefined;
      }
      this.spans.push(this.off, this.bulk);
      this.off = end - start; // the two bytes after the bulk are skipped unread, as Redis does
      this.bulk = -1;
      this.frame = 0;
      if (--this.left === 0) return this.done(data, start);
    }
  }

  /**
   * An empty line, `*0` or a negative count was read: consumed without a message (`next`
   * past it, nothing pending), as Redis drops it from its query buffer.
   */
  private ignored(start: number): undefined {
    this.next = start + this.off;
    this.off = this.scan = 0;
    return undefined;
  }

  /** The `*N` line; false until it is complete. A count of 0 or less is consumed and ignored. */
  private count(data: Buffer, start: number, at: number): boolean {
    const cr = this.lineEnd(data, start, at, 'too big mbulk count string');
    if (cr < 0) return false;
    const n = parseLong(data, at + 1, cr);
    if (n === undefined || n > this.maxMultibulk) throw protocolError('invalid multibulk length');
    this.off = cr + 2 - start;
    this.scan = this.off;
    if (n > 0) this.left = n;
    return true;
  }

  /** A `$len` line; false until it is complete. */
  private bulkLength(data: Buffer, start: number, at: number): boolean {
    const cr = this.lineEnd(data, start, at, 'too big bulk count string');
    if (cr < 0) return false;
    if (data[at] !== DOLLAR) throw protocolError(`expected '$', got '${String.fromCharCode(data[at]!)}'`);
    const n = parseLong(data, at + 1, cr);
    if (n === undefined || n < 0 || n > this.maxBulk) throw protocolError('invalid bulk length');
    this.bulk = n;
    this.off = cr + 2 - start;
    this.scan = this.off;
    return true;
  }

  /** Where the `\r` ending the line at `at` is (its `\n` present too), or -1 for not yet. */
  private lineEnd(data: Buffer, start: number, at: number, tooBig: string): number {
    const from = Math.max(at, start + this.scan);
    const cr = findCr(data, from);
    if (cr < 0) {
      if (data.length - at > INLINE_MAX) throw protocolError(tooBig);
      this.scan = data.length - start;
      return -1;
    }
    this.scan = cr - start;
    return cr + 1 < data.length ? cr : -1;
  }

  /** An inline command; null for an empty (or blank) line. */
  private inline(data: Buffer, start: number, at: number): Buffer[] | null | undefined {
    const lf = data.indexOf(LF, Math.max(at, start + this.scan));
    if (lf < 0) {
      if (data.length - at > INLINE_MAX) throw protocolError('too big inline request');
      this.scan = data.length - start;
      return undefined;
    }
    const end = lf > at && data[lf - 1] === CR ? lf - 1 : lf;
    this.off = this.scan = lf + 1 - start;
    const args = end === at ? [] : splitArgs(data.subarray(at, end));
    if (args === undefined) throw protocolError('unbalanced quotes in request');
    if (args.length === 0) return null;
    this.next = lf + 1;
    this.off = this.scan = 0;
    return args;
  }

  /** The multibulk is complete: its arguments as views of `data`. */
  private done(data: Buffer, start: number): Buffer[] {
    const spans = this.spans;
    const args = new Array<Buffer>(spans.length >> 1);
    for (let i = 0; i < spans.length; i += 2) args[i >> 1] = data.subarray(start + spans[i]!, start + spans[i]! + spans[i + 1]!);
    this.next = start + this.off;
    this.off = this.scan = 0;
    this.left = -1;
    spans.length = 0;
    return args;
  }

  encodedLength(reply: Reply): number {
    return encodedLength(reply);
  }

  encodeInto(reply: Reply, out: Buffer, offset: number): number {
    return encodeInto(reply, out, offset);
  }
}

/**
 * The first CR at or after `from`, or -1. `*N` and `$len` lines are a few bytes: a loop over
 * the first of them costs less than a native call; a longer line goes to indexOf.
 */
function findCr(data: Buffer, from: number): number {
  const end = Math.min(data.length, from + 24);
  for (let i = from; i < end; i++) if (data[i] === CR) return i;
  return end < data.length ? data.indexOf(CR, end) : -1;
}

function protocolError(what: string): ProtocolError {
  return new ProtocolError(`resp: Protocol error: ${what}`, { reply: `-ERR Protocol error: ${what}\r\n` });
}

/**
 * Redis's `string2ll` on data[from, to): an optional `-`, digits without a leading zero
 * (except "0"), nothing else. Values beyond 2^53 are refused (every limit is far below).
 */
export function parseLong(data: Buffer, from: number, to: number): number | undefined {
  if (from >= to) return undefined;
  let i = from;
  const negative = data[i] === 0x2d;
  if (negative) i++;
  if (i >= to) return undefined;
  if (data[i] === 0x30) return to - i === 1 && !negative ? 0 : undefined;
  let n = 0;
  for (; i < to; i++) {
    const c = data[i]! - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  if (n > Number.MAX_SAFE_INTEGER) return undefined;
  return negative ? -n : n;
}
