import { isUtf8 } from 'node:buffer';
import { CursorProtocol, type ProtocolLink } from '@socketserver/core';
import {
  CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, MAX_CONTROL, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
  closeError, closeFrame, controlFrame, headerLength, incompleteTail, unmask, unmaskInto, validCloseCode, writeHeader, writeMask,
  type Message, type Reply,
} from './frame.js';

/** The opening handshake is under way. */
export const HANDSHAKE = 0;
/** Messages flow. */
export const OPEN = 1;
/** We sent a close frame first: messages are still read until the peer's close comes. */
export const CLOSING = 2;
/** The close handshake is done (or the server is ending): whatever comes is ignored. */
export const CLOSED = 3;

const EMPTY = Buffer.alloc(0);
/** A message in fragments starts with room for this much, then doubles (never past the limit). */
const MIN_PARTS = 4096;

/**
 * The frames of RFC 6455 §5 on either side, in the cursor form (docs/design.md §3): a frame is
 * decoded once it is whole (its size is told as `expected`, so the framework joins its reads
 * once), its header checked as soon as it is in, before the payload. A whole message in one
 * frame is unmasked in place in the read and handed on as a view (binary) or a string (text);
 * a message in fragments is unmasked into one buffer as its frames come, its text checked as
 * it grows. Control frames are answered through the link: ping with pong, close with close.
 */
export abstract class Frames extends CursorProtocol<Message, Reply> {
  /** Bytes the pending frame needs from its first byte, once its header is in; else 0. */
  expected = 0;
  protected link: ProtocolLink | undefined = undefined;
  protected state = HANDSHAKE;
  /** The opcode of the message whose fragments are arriving (0: none), its bytes so far, and how far its text is checked. */
  private fragmented = 0;
  private parts = EMPTY;
  private partsLength = 0;
  private checked = 0;

  /**
   * `peerMasks`: the peer's frames must be masked (we are the server) or must not be (the
   * client); ours are the other way round.
   */
  constructor(protected readonly maxMessage: number, private readonly peerMasks: boolean) {
    super();
  }

  /** The fragments held for the message still arriving (counted against max_client_memory). */
  get held(): number {
    return this.parts.length;
  }

  attach(link: ProtocolLink): void {
    this.link = link;
  }

  decodeAt(data: Buffer, start: number): Message | undefined {
    if (this.state === OPEN || this.state === CLOSING) return this.frameAt(data, start);
    if (this.state === HANDSHAKE) this.handshakeAt(data, start);
    else this.next = data.length; // closed: ignored
    return undefined;
  }

  /** Read the opening handshake at `start` once it is whole: consume it (`next`), or wait. */
  protected abstract handshakeAt(data: Buffer, start: number): void;

  /** The frame at `start`: a message, or undefined (a control frame or a fragment consumed, with `next` past it; or not whole yet). */
  private frameAt(data: Buffer, start: number): Message | undefined {
    const end = data.length;
    if (end - start < 2) return undefined;
    const b0 = data[start]!;
    const b1 = data[start + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const ours = !this.peerMasks;
    // No extension is negotiated, so every reserved bit must be clear (§5.2).
    if ((b0 & 0x70) !== 0) throw closeError(CLOSE_PROTOCOL_ERROR, 'reserved bits set', ours);
    if (((b1 & 0x80) !== 0) !== this.peerMasks) {
      throw closeError(CLOSE_PROTOCOL_ERROR, this.peerMasks ? 'a client frame not masked' : 'a server frame masked', ours);
    }
    let length = b1 & 0x7f;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) throw closeError(CLOSE_PROTOCOL_ERROR, `reserved opcode ${opcode}`, ours);
      if (!fin) throw closeError(CLOSE_PROTOCOL_ERROR, 'a fragmented control frame', ours);
      if (length > MAX_CONTROL) throw closeError(CLOSE_PROTOCOL_ERROR, 'a control frame over 125 bytes', ours);
    } else if (opcode > OP_BINARY) {
      throw closeError(CLOSE_PROTOCOL_ERROR, `reserved opcode ${opcode}`, ours);
    } else if ((opcode === OP_CONTINUATION) === (this.fragmented === 0)) {
      throw closeError(CLOSE_PROTOCOL_ERROR, opcode === OP_CONTINUATION ? 'a continuation frame outside a message' : 'a new message inside a fragmented one', ours);
    }
    let pos = start + 2;
    if (length === 126) {
      if (end - pos < 2) return undefined;
      length = (data[pos]! << 8) | data[pos + 1]!;
      pos += 2;
    } else if (length === 127) {
      if (end - pos < 8) return undefined;
      const high = data.readUInt32BE(pos);
      if (high > 0x7fffffff) throw closeError(CLOSE_PROTOCOL_ERROR, 'a frame length with its top bit set', ours);
      // Anything over 2^32 is over any limit here; kept exact up to 2^53.
      length = high > 0x1fffff ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + data.readUInt32BE(pos + 4);
      pos += 8;
    }
    if (opcode < OP_CLOSE && this.partsLength + length > this.maxMessage) {
      throw closeError(CLOSE_TOO_BIG, `a message over ${this.maxMessage} bytes (--ws-max-message)`, ours);
    }
    const maskAt = pos;
    if (this.peerMasks) pos += 4;
    const frameEnd = pos + length;
    if (frameEnd > end) {
      this.expected = frameEnd - start;
      return undefined;
    }
    this.expected = 0;
    this.next = frameEnd;
    if (opcode >= OP_CLOSE) {
      if (this.peerMasks) unmask(data, pos, frameEnd, maskAt);
      this.control(opcode, data.subarray(pos, frameEnd));
      return undefined;
    }
    if (fin && this.fragmented === 0) {
      // A whole message in one frame, unmasked where it lies: no copy.
      if (this.peerMasks) unmask(data, pos, frameEnd, maskAt);
      if (opcode === OP_BINARY) return data.subarray(pos, frameEnd);
      if (!isUtf8(data.subarray(pos, frameEnd))) throw closeError(CLOSE_INVALID_DATA, 'invalid UTF-8 in a text message', ours);
      return data.toString('utf8', pos, frameEnd);
    }
    if (this.fragmented === 0) this.fragmented = opcode;
    this.appendFragment(data, pos, frameEnd, maskAt);
    return fin ? this.wholeMessage() : undefined;
  }

  /** Unmask a fragment into the message's buffer; check its text so far (a character may span fragments). */
  private appendFragment(data: Buffer, from: number, to: number, maskAt: number): void {
    const length = this.partsLength + (to - from);
    if (length > this.parts.length) {
      const grown = Buffer.allocUnsafeSlow(Math.min(Math.max(length, this.parts.length * 2, MIN_PARTS), Math.max(length, this.maxMessage)));
      this.parts.copy(grown, 0, 0, this.partsLength);
      this.parts = grown;
    }
    if (this.peerMasks) unmaskInto(data, from, to, maskAt, this.parts, this.partsLength);
    else data.copy(this.parts, this.partsLength, from, to);
    this.partsLength = length;
    if (this.fragmented === OP_TEXT) {
      const upTo = length - incompleteTail(this.parts, this.checked, length);
      if (!isUtf8(this.parts.subarray(this.checked, upTo))) throw closeError(CLOSE_INVALID_DATA, 'invalid UTF-8 in a text message', !this.peerMasks);
      this.checked = upTo;
    }
  }

  /** The last fragment is in: the message, and the buffer let go of (the handler may keep it). */
  private wholeMessage(): Message {
    const parts = this.parts;
    const length = this.partsLength;
    const text = this.fragmented === OP_TEXT;
    // Checked up to where a character was still incomplete: at the end, none may be.
    const complete = this.checked === length;
    this.fragmented = this.partsLength = this.checked = 0;
    this.parts = EMPTY;
    if (!text) return parts.subarray(0, length);
    if (!complete) throw closeError(CLOSE_INVALID_DATA, 'invalid UTF-8 in a text message', !this.peerMasks);
    return parts.toString('utf8', 0, length);
  }

  /** A control frame, its payload unmasked: ping is answered, pong is only activity, close is echoed. */
  private control(opcode: number, payload: Buffer): void {
    const ours = !this.peerMasks;
    if (opcode === OP_PING) {
      if (this.state === OPEN) this.link?.write(controlFrame(OP_PONG, payload, ours));
      return;
    }
    if (opcode === OP_PONG) return;
    let code: number | undefined;
    if (payload.length === 1) throw closeError(CLOSE_PROTOCOL_ERROR, 'a close frame with a 1-byte payload', ours);
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!validCloseCode(code)) throw closeError(CLOSE_PROTOCOL_ERROR, `close code ${code}, which a peer may not send`, ours);
      if (!isUtf8(payload.subarray(2))) throw closeError(CLOSE_INVALID_DATA, 'invalid UTF-8 in a close reason', ours);
    }
    // Their close answers ours; otherwise ours echoes their code (§5.5.1), and the connection ends.
    const echo = this.state === OPEN ? closeFrame(code, '', ours) : undefined;
    this.state = CLOSED;
    this.link?.end(echo);
  }

  /** Bytes a reply takes as a frame of ours: text for a string, binary for bytes. */
  encodedLength(reply: Reply): number {
    const length = typeof reply === 'string' ? Buffer.byteLength(reply) : bytes(reply).length;
    return headerLength(length, !this.peerMasks) + length;
  }

  encodeInto(reply: Reply, out: Buffer, offset: number): number {
    const masks = !this.peerMasks;
    let at: number;
    let end: number;
    if (typeof reply === 'string') {
      if (reply.length <= 41 && !masks) {
        // At most 123 bytes: a 2-byte header whatever the characters, so the text is written once.
        const written = out.write(reply, offset + 2);
        out[offset] = 0x80 | OP_TEXT;
        out[offset + 1] = written;
        return offset + 2 + written;
      }
      const length = Buffer.byteLength(reply);
      at = writeHeader(out, offset, OP_TEXT, length, masks) + (masks ? 4 : 0);
      end = at + out.write(reply, at, length);
    } else {
      const payload = bytes(reply);
      at = writeHeader(out, offset, OP_BINARY, payload.length, masks) + (masks ? 4 : 0);
      out.set(payload, at);
      end = at + payload.length;
    }
    if (masks) {
      writeMask(out, at - 4);
      unmask(out, at, end, at - 4); // masking is the same XOR
    }
    return end;
  }
}

/** A reply's bytes, or a TypeError naming what it is instead. */
function bytes(reply: unknown): Uint8Array {
  if (reply instanceof Uint8Array) return reply;
  const kind = reply === null ? 'null' : Array.isArray(reply) ? 'an array' : `a ${typeof reply}`;
  throw new TypeError(`websocket: a reply is a string (a text message) or a Buffer or Uint8Array (binary), not ${kind}`);
}
