import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { parseAddress, type Address } from '../address.js';
import { ProtocolError, UsageError, errorMessage } from '../errors.js';
import { Cumulator } from '../net/cumulator.js';
import type { Protocol, ProtocolLink } from '../net/protocol.js';
import { PushIterator } from './pushes.js';
import { decodeMessages } from './decode-messages.js';

/** A request not answered yet: replies are matched to these in order (FIFO). */
interface Pending {
  request: unknown;
  resolve(reply: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Not written yet: an unframed protocol's request waits for the reply before it. */
  unsent?: Buffer | Uint8Array | string | undefined;
}

export interface ConnectOptions {
  /** The --bind forms: HOST:PORT, [v6]:PORT, unix:PATH. */
  readonly address: string;
  /** ms to connect; default 5000. */
  readonly connectTimeout?: number;
  /** ms a request may wait for its reply; default 30000; 0 = none. */
  readonly requestTimeout?: number;
  /** Speak TLS: true checks the server against the system's CAs; options go to tls.connect (`ca`, `cert`, `key`, `servername`...). */
  readonly tls?: boolean | ConnectionOptions;
}

/**
 * A client's protocol, which may tell pushes from replies itself (RESP's pub/sub messages).
 * Without `isPush`, a message is a push when no request is outstanding.
 */
export interface ClientProtocol<Rep = unknown, Req = unknown> extends Protocol<Rep, Req> {
  /**
   * Sees every message decoded, in order, with the request it would answer (the oldest
   * outstanding; undefined when none is): true when the server pushed it instead.
   */
  isPush?(message: Rep, request: Req | undefined): boolean;
  /**
   * Read once `attach` has been called: the connection is ready for requests when this
   * resolves (a handshake answered); its rejection fails the connect. Undefined: at once.
   */
  readonly ready?: Promise<void>;
}

/** What a Client emits: each push, and the close (with the failure that closed it, if any). */
interface ClientEvents<Rep> {
  push: [message: Rep];
  close: [error: Error | undefined];
}

/** Why a connect failed, as a person reads it. */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOENT: 'no such socket file',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EACCES: 'permission denied',
  ECONNRESET: 'connection reset',
};

export function parseTarget(text: string): Exclude<Address, { kind: 'fd' | 'udp' }> {
  try {
    const addr = parseAddress(text);
    // A descriptor names a socket this process was handed to listen on: there is nothing to connect to.
    if (addr.kind === 'fd') throw new Error('fd://N is a listening socket handed to a server, not an address to connect to');
    if (addr.kind === 'udp') throw new Error('udp:// is served to datagrams; a client connects over TCP or a unix socket');
    return addr;
  } catch (err) {
    throw new UsageError(`invalid address "${text}": ${errorMessage(err)}`);
  }
}

/**
 * One connection to a server speaking `protocol`: requests are encoded and written at once
 * (pipelined), replies decoded and handed to the requests in the order they were sent.
 * A message answering no request is a push: emitted as `push` and queued for `pushes()`.
 * Any failure that leaves the stream out of step (a timeout, a malformed reply) fails every
 * outstanding request and closes the connection.
 */
export class Client<Req = unknown, Rep = unknown> extends EventEmitter<ClientEvents<Rep>> {
  private readonly pending: Pending[] = [];
  private readonly pendingBytes = new Cumulator();
  private readonly isPush: ((message: Rep, request: Req | undefined) => boolean) | undefined;
  private readonly iterators = new Set<PushIterator<Rep>>();
  private failure: Error | undefined;
  /** The failure that closed the connection, when it was not simply closed (by us, or by the server with nothing owed). */
  private broken: Error | undefined;
  private isClosed = false;
  private ending: Promise<void> | undefined;
  private readonly closed: Promise<void>;
  /** When the connection last read or wrote (Date.now()), for the protocol's link. */
  private lastActive = Date.now();
  private wakeTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly socket: Socket, private readonly protocol: ClientProtocol<Rep, Req>,
    readonly address: string, private readonly requestTimeout: number) {
    super();
    this.isPush = protocol.isPush?.bind(protocol);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.lastActive = Date.now();
      this.onData(chunk);
    });
    socket.on('error', (err) => this.fail(new Error(`connection to ${address} failed: ${REASONS[(err as NodeJS.ErrnoException).code ?? ''] ?? err.message}`)));
    socket.on('end', () => {
      const n = this.pending.length;
      if (n > 0) this.fail(new Error(`connection closed by the server with ${n} request(s) unanswered`));
      else this.fail(new Error(`connection closed by the server`), true);
    });
    socket.on('close', () => {
      clearTimeout(this.wakeTimer);
      this.fail(new Error(`connection to ${address} is closed`), true);
      // After the pushes already decoded, which are handed over in microtasks.
      queueMicrotask(() => {
        this.isClosed = true;
        for (const it of this.iterators) it.end(this.broken);
        this.iterators.clear();
        this.emit('close', this.broken);
      });
    });
    protocol.attach?.(this.link());
  }

  /** The connection as its protocol sees it (Protocol.attach): its own bytes, its end, a timer. */
  private link(): ProtocolLink {
    const socket = this.socket;
    const write = (bytes: Uint8Array | string) => {
      if (!socket.destroyed && !socket.writableEnded) socket.write(bytes);
    };
    const lastActive = () => this.lastActive;
    return {
      write, probe: write,
      end: (last) => {
        if (socket.destroyed || socket.writableEnded) return;
        if (last !== undefined) socket.end(last);
        else socket.end();
      },
      wake: (ms) => {
        clearTimeout(this.wakeTimer);
        this.wakeTimer = ms > 0 ? setTimeout(() => this.wake(), ms).unref() : undefined;
      },
      describe: () => undefined, // a client's protocol learns nothing a caller asks for
      get lastActive() { return lastActive(); },
      peer: this.address,
    };
  }

  /** The time the protocol asked for has come: what it throws fails the connection. */
  private wake(): void {
    if (this.failure) return;
    try {
      this.protocol.wake?.(Date.now());
    } catch (err) {
      this.fail(new Error(`connection to ${this.address} failed: ${errorMessage(err)}`));
    }
  }

  /** Connect to `options.address`; rejects with `cannot connect to ADDRESS: REASON`. */
  static connect<Req, Rep>(protocol: ClientProtocol<Rep, Req>, options: ConnectOptions): Promise<Client<Req, Rep>> {
    const addr = parseTarget(options.address);
    const text = addr.kind === 'unix' ? `unix:${addr.path}` : addr.text;
    const timeout = options.connectTimeout ?? 5000;
    const requestTimeout = options.requestTimeout ?? 30_000;
    const tls = options.tls === true ? {} : options.tls || undefined;
    return new Promise((resolve, reject) => {
      const where = addr.kind === 'unix' ? { path: addr.path } : { host: addr.host ?? '127.0.0.1', port: addr.port };
      // SNI needs a name, not an address; node:tls is loaded only by a TLS client.
      const servername = addr.kind !== 'unix' && addr.host !== undefined && !/^[\d.]+$|:/.test(addr.host) ? { servername: addr.host } : {};
      const socket: Socket = tls === undefined ? connect(where)
        : process.getBuiltinModule('node:tls').connect({ ...where, ...servername, ...tls });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`cannot connect to ${text}: no answer within ${timeout} ms`));
      }, timeout);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${text}: ${REASONS[err.code ?? ''] ?? err.message}`));
      });
      socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        const client = new Client<Req, Rep>(socket, protocol, text, requestTimeout);
        const ready = protocol.ready; // after attach: a handshake the protocol began
        if (ready === undefined) {
          clearTimeout(timer);
          resolve(client);
          return;
        }
        // Within the same connectTimeout: the handshake is part of connecting.
        const closed = (err: Error | undefined) => fail(err ?? new Error('connection closed by the server'));
        const fail = (err: Error) => {
          clearTimeout(timer);
          client.off('close', closed);
          socket.destroy();
          reject(new Error(`cannot connect to ${text}: ${errorMessage(err)}`));
        };
        client.once('close', closed);
        ready.then(() => {
          clearTimeout(timer);
          client.off('close', closed);
          resolve(client);
        }, fail);
      });
    });
  }

  /** Requests sent and not answered yet. */
  get outstanding(): number {
    return this.pending.length;
  }

  /**
   * The pushes from now until the connection closes, for `for await`: at most `limit` (default
   * 1024) wait to be read, beyond that the oldest is dropped and counted in `dropped`. The
   * iteration ends when the connection closes, throwing if it failed.
   */
  pushes(options: { readonly limit?: number } = {}): PushIterator<Rep> {
    const limit = options.limit ?? 1024;
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`pushes: invalid limit ${limit}: expected an integer, 0 or more`);
    const it = new PushIterator<Rep>(limit, (done) => this.iterators.delete(done));
    if (this.isClosed) it.end(this.broken);
    else this.iterators.add(it);
    return it;
  }

  /** Send `message`; resolves with its reply. */
  request(message: Req): Promise<Rep> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ending) return Promise.reject(new Error(`client to ${this.address} is closing`));
    let encoded: Buffer | Uint8Array | string;
    try {
      encoded = this.protocol.encode(message);
    } catch (err) {
      return Promise.reject(err as Error); // nothing was written: the stream is still in step
    }
    return new Promise<Rep>((resolve, reject) => {
      const entry: Pending = { request: message, resolve: resolve as (r: unknown) => void, reject, timer: undefined };
      // Unframed (echo): the server cannot tell two requests sent together apart, so one goes at a time.
      if (this.protocol.unframed === true && this.pending.length > 0) entry.unsent = encoded;
      else this.write(entry, encoded);
      this.pending.push(entry);
    });
  }

  /** Write a request; its reply is waited for from now (requestTimeout). */
  private write(entry: Pending, encoded: Buffer | Uint8Array | string): void {
    if (this.requestTimeout > 0) {
      entry.timer = setTimeout(() => {
        this.fail(new Error(`no reply from ${this.address} within ${this.requestTimeout} ms`));
      }, this.requestTimeout);
    }
    this.socket.write(encoded);
  }

  /**
   * End the connection gracefully: the server sees our end after the requests, replies
   * still due arrive first, then the socket is closed (a server keeping its side open
   * after our end does not hold it).
   */
  close(): Promise<void> {
    if (!this.ending) {
      this.ending = this.closed;
      if (!this.socket.destroyed) {
        // The protocol's last word (WebSocket's close frame), then our end.
        const bye = this.goodbye();
        if (bye !== undefined) this.socket.end(bye);
        else this.socket.end();
      }
      this.closeIfIdle();
    }
    return this.ending;
  }

  private goodbye(): Uint8Array | string | undefined {
    try {
      return this.protocol.goodbye?.('clean');
    } catch {
      return undefined; // closed all the same
    }
  }

  /** Once closing and nothing is outstanding: destroy the socket when our end has been written. */
  private closeIfIdle(): void {
    if (!this.ending || this.pending.length > 0 || this.socket.destroyed) return;
    if (this.socket.writableFinished) this.socket.destroy();
    else this.socket.once('finish', () => this.socket.destroy());
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    try {
      decodeMessages(this.protocol, this.pendingBytes, chunk, this.deliver);
    } catch (err) {
      const why = err instanceof ProtocolError ? err.message : errorMessage(err);
      this.fail(new Error(`malformed reply from ${this.address}: ${why}`));
    }
  }

  /** Hand a message to the oldest request, or as a push when it answers none. */
  private readonly deliver = (message: Rep): void => {
    const entry = this.pending[0];
    const push = this.isPush ? this.isPush(message, entry?.request as Req | undefined) : false;
    if (push || entry === undefined) return this.pushed(message);
    this.pending.shift();
    if (entry.timer) clearTimeout(entry.timer);
    const next = this.pending[0];
    if (next?.unsent !== undefined) {
      this.write(next, next.unsent);
      next.unsent = undefined;
    }
    entry.resolve(message);
    this.closeIfIdle();
  };

  /**
   * In a microtask, so that pushes and replies reach their callbacks in the order they came
   * (a reply's `then` is queued as it resolves), and so that code run when a reply arrives can
   * still listen for the pushes that followed it.
   */
  private pushed(message: Rep): void {
    queueMicrotask(() => {
      this.emit('push', message);
      for (const it of this.iterators) it.put(message);
    });
  }

  /** Reject everything outstanding with `err` and close: the stream is no longer in step. */
  private fail(err: Error, clean = false): void {
    if (!this.failure) {
      this.failure = err;
      if (!clean) this.broken = err;
    }
    for (const entry of this.pending.splice(0)) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(err);
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
