import type { CloseReason, Request } from './connection.js';

/**
 * What a protocol may do on its connection by itself (docs/design.md §3), handed to its
 * `attach` once, before the first read: write bytes that answer no request (a handshake's
 * answer, WebSocket's pong and ping), end the connection with a last word, and ask for a
 * timer. On a server the connection implements it; on a client, `Client`.
 */
export interface ProtocolLink {
  /**
   * Write `bytes` now, ahead of replies not yet written (they are the protocol's own, not a
   * reply). Not activity for keep_alive. A client that does not read them is paused as for
   * replies.
   */
  write(bytes: Uint8Array | string): void;
  /**
   * Write a liveness probe (WebSocket's ping) as `write` does. From then on keep_alive counts
   * the connection idle from its last read or write even when it holds subscriptions (which
   * otherwise spare it): a peer that answers nothing within keep_alive is closed as idle.
   */
  probe(bytes: Uint8Array | string): void;
  /**
   * End the connection: `last` is written after every reply owed, then the connection is
   * closed. Input that comes meanwhile is the protocol's to ignore.
   */
  end(last?: Uint8Array | string): void;
  /** Call the protocol's `wake` once, about `ms` from now (the server's one sweep timer); 0 cancels. */
  wake(ms: number): void;
  /**
   * Say what the protocol learned of the connection (WebSocket's handshake: its path, query and
   * headers): handlers and hooks read it as `connection.protocolInfo`.
   */
  describe(info: object): void;
  /** When the connection last read or wrote (Date.now()). */
  readonly lastActive: number;
  /** The other end: the client (`host:port`) on a server, the address connected to on a client. */
  readonly peer: string;
}

/**
 * What a protocol instance is made for, as its plugin's `protocol(cfg, mode)` is told: a
 * connection's byte stream, or one datagram of a udp:// bind (each decode then gets one whole
 * datagram: a protocol whose framing differs between the two, as syslog's does, reads this).
 */
export interface ProtocolMode {
  readonly datagram: boolean;
}

export const STREAM: ProtocolMode = Object.freeze({ datagram: false });
export const DATAGRAM: ProtocolMode = Object.freeze({ datagram: true });

/**
 * Framing for one connection (docs/design.md §3). One instance per connection, so a decoder
 * may keep state between calls (how far it has scanned, the length it expects).
 *
 * `decode(data)` gets the unconsumed bytes: the `rest` it returned last time followed
 * by whatever arrived since. It returns `[message, rest]`, or `[undefined, rest]` when
 * more data is needed; the framework calls it again while it returns messages. It throws
 * `ProtocolError` on malformed or over-long input, which closes that connection.
 * To keep cost linear in the bytes received, a decoder should not rescan bytes it has
 * already seen: the framework keeps `rest` and appends to it without copying it again.
 * `encode` turns a response into bytes (and is what a client uses to send).
 *
 * The optional members let the framework go faster; `decode` and `encode` must still work.
 */
export interface Protocol<M = Buffer, R = M> {
  decode(data: Buffer): [message: M | undefined, rest: Buffer];
  encode(message: R): Buffer | Uint8Array | string;
  /**
   * After a decode asked for more data: how many bytes `data` must hold for the next
   * message, when the decoder knows (a length prefix). The framework then holds reads
   * without decoding and joins them once into a buffer of that size.
   */
  readonly expected?: number;
  /**
   * Bytes the decoder's state for the pending message will cost beyond the bytes themselves
   * (objects it builds per argument, say): counted with them against max_client_memory, so a
   * message of millions of tiny parts is refused before it is built (docs/design.md §14).
   */
  readonly held?: number;
  /**
   * When true, a handler's `null` is a reply this protocol encodes (RESP's null bulk);
   * otherwise `null`, like `undefined`, sends nothing.
   */
  readonly encodesNull?: boolean;
  /**
   * Over udp://: how many times a datagram's size its replies may take together, instead of
   * udp_amplification (a protocol whose small requests have large replies by design; 0: no limit).
   */
  readonly datagramAmplification?: number;
  /**
   * No framing: a message is whatever one read holds (echo). A client then sends one request
   * at a time, each after the reply to the one before (`createClient`, `ss send`).
   */
  readonly unframed?: boolean;
  /**
   * Cursor form of `decode`, preferred when present: the message that begins at `start`
   * in `data`, or undefined when it is not complete yet (scan state is then kept relative
   * to `start`, where the next call's data will begin). After a message, `next` is where
   * the following one begins. Saves slicing `rest` for every message.
   *
   * Input may also be consumed without a message (bytes the protocol ignores, such as
   * RESP's empty lines): return undefined with `next` set past it; the framework drops
   * those bytes and calls again at `next` (scan state is then relative to `next`). So after
   * an undefined, `next` must be at most `start` unless input was consumed; a decoder that
   * only sets `next` with a message meets this, since the framework sets `next` to 0 when
   * it keeps the rest of a read (`next` must therefore be writable, as `CursorProtocol`'s is).
   * Consumed input is never pending, so it does not start `--frame-timeout`.
   */
  decodeAt?(data: Buffer, start: number): M | undefined;
  readonly next?: number;
  /**
   * With `encodeInto`, preferred to `encode`: every reply of one read is encoded straight
   * into one buffer of the summed lengths, then written once.
   */
  encodedLength?(message: R): number;
  /** Write `message` encoded into `out` at `offset`; return the offset after it. */
  encodeInto?(message: R, out: Buffer, offset: number): number;
  /**
   * The connection's link (see `ProtocolLink`), given once before the first read, for a
   * protocol that writes on its own: a handshake, control frames, pings.
   */
  attach?(link: ProtocolLink): void;
  /**
   * The time asked for with `link.wake` has come (`now` is Date.now()). A `ProtocolError`
   * thrown closes the connection as bad input, with its `reply` (a handshake not done in time).
   */
  wake?(now: number): void;
  /**
   * The last bytes when this side ends the connection itself: a server that stops
   * (`shutdown`) or whose handler failed (`handler_error`), a client that closes (`clean`).
   * WebSocket's close frame; undefined: nothing.
   */
  goodbye?(reason: CloseReason): Uint8Array | string | undefined;
}

/** Responses a handler may give: something the protocol encodes, or undefined for no reply. */
export type HandlerResult<R> = R | undefined | Promise<R | undefined>;

/**
 * Message in, response out (docs/design.md §4). Replies on one connection go out in request order.
 * Typed as a method is (its parameters compared both ways), so that the framework's `Handler`
 * (of unknown messages) holds one written for its protocol's messages (`HandlerOf<typeof line>`).
 */
export type Handler<M = unknown, R = unknown> = {
  handle(message: M, request: Request<M>): HandlerResult<R>;
}['handle'];
