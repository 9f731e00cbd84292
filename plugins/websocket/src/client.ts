import { randomBytes } from 'node:crypto';
import { ProtocolError, type CloseReason, type ClientProtocol, type ProtocolLink } from '@socketserver/core';
import { CLOSE_NORMAL, closeFrame, type Message, type Reply } from './frame.js';
import { CLOSING, Frames, HANDSHAKE, OPEN } from './frames.js';
import { HEAD_END, checkAnswer, upgradeRequest } from './http.js';

/** What a client connection needs of the settings. */
export interface ClientOptions {
  readonly path: string;
  /** Subprotocols to offer, in order of preference. */
  readonly protocols: readonly string[];
  readonly maxMessage: number;
  readonly maxHeader: number;
}

/**
 * The client side (`createClient`, `ss send`): on attach it sends the opening handshake with
 * a random key, and `ready` resolves once the server's `101` checks out. Then its frames are
 * masked (a fresh random mask each), the server's are read unmasked; a string is sent as a
 * text message, bytes as binary.
 */
export class WebSocketClientProtocol extends Frames implements ClientProtocol<Message, Reply> {
  ready: Promise<void> | undefined = undefined;
  /** The subprotocol the server chose, once it answered. */
  protocol: string | undefined = undefined;
  private key = '';
  private scanned = 0;
  private settle: ((err?: Error) => void) | undefined;

  constructor(private readonly options: ClientOptions) {
    super(options.maxMessage, false);
  }

  override attach(link: ProtocolLink): void {
    super.attach(link);
    this.key = randomBytes(16).toString('base64');
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.ready.catch(() => undefined); // the connect that reads it reports it
    // A unix socket has no host name: any Host will do there.
    const host = link.peer.startsWith('unix:') ? 'localhost' : link.peer;
    link.write(upgradeRequest(host, this.options.path, this.key, this.options.protocols));
  }

  protected handshakeAt(data: Buffer, start: number): void {
    const max = this.options.maxHeader;
    const end = data.indexOf(HEAD_END, start + Math.max(0, this.scanned - 3));
    try {
      if (end === -1 || end + 4 - start > max) {
        if ((end === -1 ? data.length : end + 4) - start > max) throw new ProtocolError(`websocket: the server's answer is over ${max} bytes (--ws-max-header)`);
        this.scanned = data.length - start;
        return;
      }
      this.protocol = checkAnswer(data.toString('latin1', start, end), this.key, this.options.protocols);
    } catch (err) {
      this.settle?.(err as Error);
      throw err;
    }
    this.next = end + 4;
    this.state = OPEN;
    this.settle?.();
  }

  /** The client closes: a close frame (1000), then the server's answer ends the connection. */
  goodbye(_reason: CloseReason): Buffer | undefined {
    if (this.state !== OPEN) {
      if (this.state === HANDSHAKE) this.settle?.(new Error('closed before the handshake was answered'));
      return undefined;
    }
    this.state = CLOSING;
    return closeFrame(CLOSE_NORMAL, '', true);
  }
}
