import { CursorProtocol, ProtocolError } from '@socketserver/core';
import { parseSyslog, type SyslogMessage } from './parse.js';
import type { SyslogCounts } from './counts.js';

const NL = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

export interface SyslogProtocolOptions {
  /** Largest message accepted, framing excluded. */
  readonly maxMessage: number;
  /** Each decode is one whole datagram (UDP), not a stream to frame. */
  readonly datagram?: boolean;
  /** Counted into, when given: messages decoded, and those malformed. */
  readonly counts?: SyslogCounts;
}

/**
 * Syslog over a stream (RFC 6587), each message framed one of two ways, told apart by its
 * first byte as rsyslog does: a digit begins octet counting (`LEN SP MSG`), anything else
 * (`<`) is non-transparent framing, the message ending at LF (a CR before it is dropped) or
 * NUL. Empty lines between messages are skipped. In datagram mode (UDP) a decode is one
 * message: the whole datagram, trailing LF, CR and NUL trimmed.
 *
 * A message over `maxMessage` bytes is a `ProtocolError` (closing the connection), raised as
 * soon as its octet count or its pending bytes prove it. Malformed syslog inside a frame is
 * not an error: it is parsed as far as it goes and flagged (`malformed`). Syslog has no
 * replies; a handler's answer is written as a line.
 */
export class SyslogProtocol extends CursorProtocol<SyslogMessage, string | Uint8Array> {
  /** Non-transparent: how much of the pending message has been searched for its end. */
  private scanned = 0;
  /** Octet counting: digits of the count parsed so far, their value, then the whole frame's size. */
  private digits = 0;
  private length = 0;
  private frame = 0;

  constructor(readonly options: SyslogProtocolOptions) {
    super();
  }

  get expected(): number {
    return this.frame;
  }

  decodeAt(data: Buffer, start: number): SyslogMessage | undefined {
    if (this.options.datagram) return this.datagram(data, start);
    if (this.frame === 0 && this.digits === 0 && this.scanned === 0) {
      if (start === data.length) return undefined;
      const first = data[start]!;
      if (first >= ZERO && first <= NINE) return this.counted(data, start);
    }
    return this.digits > 0 ? this.counted(data, start) : this.delimited(data, start);
  }

  private datagram(data: Buffer, start: number): SyslogMessage | undefined {
    let end = data.length;
    while (end > start && (data[end - 1] === NL || data[end - 1] === CR || data[end - 1] === NUL)) end--;
    this.next = data.length;
    return end > start ? this.parsed(data.subarray(start, end)) : undefined;
  }

  /** Octet counting: `LEN SP MSG`, LEN a decimal count of MSG's bytes. */
  private counted(data: Buffer, start: number): SyslogMessage | undefined {
    if (this.frame === 0) {
      let i = start + this.digits;
      let length = this.length;
      for (; i < data.length; i++) {
        const c = data[i]!;
        if (c === SP) break;
        if (c < ZERO || c > NINE) throw new ProtocolError(`syslog: expected a digit or a space in the octet count, got ${describe(c)}`);
        if (i === start + 1 && data[start] === ZERO) throw new ProtocolError('syslog: octet count has a leading zero');
        length = length * 10 + (c - ZERO);
        if (length > this.options.maxMessage) this.tooLong();
      }
      this.digits = i - start;
      this.length = length;
      if (i === data.length) return undefined;
      this.frame = this.digits + 1 + length;
    }
    const end = start + this.frame;
    if (data.length < end) return undefined;
    const body = data.subarray(start + this.digits + 1, end);
    this.frame = this.digits = this.length = 0;
    this.next = end;
    return body.length > 0 ? this.parsed(body) : undefined; // `0 `: nothing, skipped
  }

  /** Non-transparent framing: up to LF or NUL. */
  private delimited(data: Buffer, start: number): SyslogMessage | undefined {
    const from = start + this.scanned;
    const nl = data.indexOf(NL, from);
    // NUL is looked for only before the LF (or in the new bytes), so no byte is searched twice.
    const nul = data.subarray(from, nl === -1 ? data.length : nl).indexOf(NUL);
    const stop = nul !== -1 ? from + nul : nl;
    if (stop === -1) {
      const pending = data.length - start;
      if (pending > this.options.maxMessage + 1) this.tooLong(); // the slack: a CR before LF
      this.scanned = pending;
      return undefined;
    }
    this.scanned = 0;
    this.next = stop + 1;
    const end = stop > start && data[stop - 1] === CR ? stop - 1 : stop;
    if (end - start > this.options.maxMessage) this.tooLong();
    return end > start ? this.parsed(data.subarray(start, end)) : undefined;
  }

  private parsed(body: Buffer): SyslogMessage {
    const message = parseSyslog(body);
    const counts = this.options.counts;
    if (counts) {
      counts.messages++;
      if (message.malformed) counts.malformed++;
    }
    return message;
  }

  private tooLong(): never {
    throw new ProtocolError(`syslog: message longer than ${this.options.maxMessage} bytes (--syslog-max-message)`);
  }

  encodedLength(reply: string | Uint8Array): number {
    return (typeof reply === 'string' ? Buffer.byteLength(reply) : reply.length) + 1;
  }

  encodeInto(reply: string | Uint8Array, out: Buffer, offset: number): number {
    if (typeof reply === 'string') offset += out.write(reply, offset);
    else {
      out.set(reply, offset);
      offset += reply.length;
    }
    out[offset] = NL;
    return offset + 1;
  }
}

function describe(byte: number): string {
  return byte > 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
