import type { CloseReason, ProtocolLink } from '@socketserver/core';
import { CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, OP_PING, closeFrame, controlFrame } from './frame.js';
import { CLOSED, Frames, HANDSHAKE, OPEN } from './frames.js';
import { HEAD_END, answerUpgrade, refuse, type UpgradeOptions } from './http.js';

/** What a server connection needs of the settings, worked out once per server. */
export interface ServerOptions extends UpgradeOptions {
  readonly maxMessage: number;
  readonly maxHeader: number;
  /** Milliseconds the opening handshake may take. */
  readonly handshakeMs: number;
  /** Milliseconds of silence after which the server pings (0: never). */
  readonly pingMs: number;
}

/** A ping with no payload: the same bytes every time. */
const PING = controlFrame(OP_PING, Buffer.alloc(0), false);

/**
 * The server side of one WebSocket connection: the opening handshake (an HTTP/1.1 Upgrade,
 * answered `101` through the link, or refused with an HTTP error), then frames (`Frames`).
 * The link's timer bounds the handshake, then pings a connection that has been silent for
 * the ping interval (a probe: keep_alive then closes a peer that does not answer).
 */
export class WebSocketProtocol extends Frames {
  /** Bytes of the handshake already scanned for its end, from its first byte. */
  private scanned = 0;

  constructor(private readonly options: ServerOptions) {
    super(options.maxMessage, true);
  }

  override attach(link: ProtocolLink): void {
    super.attach(link);
    link.wake(this.options.handshakeMs);
  }

  protected handshakeAt(data: Buffer, start: number): void {
    const max = this.options.maxHeader;
    // Resume where the last look stopped (less the 3 bytes an end split across reads may have begun).
    const end = data.indexOf(HEAD_END, start + Math.max(0, this.scanned - 3));
    if (end === -1 || end + 4 - start > max) {
      if ((end === -1 ? data.length : end + 4) - start > max) throw refuse(431, `handshake over ${max} bytes (--ws-max-header)`);
      this.scanned = data.length - start;
      return;
    }
    this.scanned = 0;
    const { answer, handshake } = answerUpgrade(data.toString('latin1', start, end), this.options);
    this.next = end + 4;
    this.state = OPEN;
    this.link!.describe(handshake);
    this.link!.write(answer);
    this.link!.wake(this.options.pingMs); // 0: no pings, and the handshake's timer is off
  }

  wake(now: number): void {
    const link = this.link!;
    if (this.state === HANDSHAKE) throw refuse(408, `no complete handshake within ${this.options.handshakeMs / 1000}s (--ws-handshake-timeout)`);
    const every = this.options.pingMs;
    if (this.state !== OPEN || every === 0) return;
    const silent = now - link.lastActive;
    if (silent >= every) {
      link.probe(PING);
      link.wake(every);
    } else {
      link.wake(every - silent);
    }
  }

  /** The server ends the connection itself: 1001 when it stops, 1011 when the handler failed (§7.4.1). */
  goodbye(reason: CloseReason): Buffer | undefined {
    if (this.state !== OPEN) return undefined;
    this.state = CLOSED;
    return reason === 'handler_error' ? closeFrame(CLOSE_INTERNAL_ERROR, 'server error') : closeFrame(CLOSE_GOING_AWAY, 'server stopping');
  }
}
