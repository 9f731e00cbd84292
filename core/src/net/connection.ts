import type { Socket } from 'node:net';
import { Cumulator } from './cumulator.js';
import { ProtocolError, errorMessage } from '../errors.js';
import type { Protocol } from './protocol.js';
import type { Server } from './connection-set.js';

type Encoded = Buffer | Uint8Array | string;

/** One message on a connection, as hooks and the handler see it. */
export class Request<M = unknown> {
  /** The handler's result once known (what `postRequest` gets, and what is encoded). */
  response: unknown = undefined;
  /** @internal Answered, and waiting only for earlier replies (pipelining with async handlers). */
  done = false;

  constructor(
    readonly connection: Connection,
    /** 1 for the first message on the connection. */
    readonly seq: number,
    readonly message: M,
  ) {}
}

/** Replies waiting for an async handler before more are read from this client. */
export const MAX_IN_FLIGHT = 1024;

/** How long a failed connection may take to send the replies it was owed before it is closed. */
const LINGER_MS = 2000;
/** How long a connection accepted just before a drain has to send its first request. */
const FRESH_GRACE_MS = 1000;
const BLOCKED_WRITE = 1; // the client is not reading our replies
const BLOCKED_IN_FLIGHT = 2; // too many async replies outstanding
const kConnection = Symbol('connection');

type Owned = Socket & { [kConnection]: Connection };

// Listeners shared by every socket (no closures per connection: idle connections stay small).
function onData(this: Owned, chunk: Buffer) { this[kConnection].receive(chunk); }
function onDrain(this: Owned) {
  const connection = this[kConnection];
  connection.lastActive = Date.now(); // the client read our replies: not idle
  connection.unblock(BLOCKED_WRITE);
}
function onEnd(this: Owned) { this[kConnection].finish(); }
function onError(this: Owned, err: Error) { this[kConnection].socketError(err); }
function onClose(this: Owned) { this[kConnection].closed(); }
function onFinish(this: Socket) { this.destroy(); }

/**
 * The loop of design §3 and §4 for one client: bytes in, decode every complete
 * message, call the handler, and write the replies of one read with one write, in
 * request order even when async handlers finish out of order. Stops reading a client
 * that is not reading its replies, or that has too many async requests outstanding.
 */
export class Connection {
  /** Messages received so far. */
  requests = 0;
  /** Why the connection closed, if it did not close cleanly. */
  error: Error | undefined = undefined;
  /** When it last read or wrote (Date.now()): the server's keep-alive sweep compares it. */
  lastActive = Date.now();
  private readonly protocol: Protocol<unknown, unknown>;
  private pending: Cumulator | null = null;
  private queue: Request[] | null = null;
  private queueHead = 0;
  /** Responses to write at the end of this read (encoded together at flush). */
  private replies: unknown[] | null = null;
  private replyCount = 0;
  private blocked = 0;
  private reading = false;
  private ending = false;
  private dead = false;

  constructor(
    readonly server: Server,
    readonly socket: Socket,
    /** Unique within the process; names the connection in logs. */
    readonly id: number,
  ) {
    this.protocol = server.newProtocol();
    (socket as Owned)[kConnection] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }
  /** `host:port` of the client, or `unix` for a unix-socket client. */
  get peer(): string {
    const { remoteAddress: host, remotePort: port } = this.socket;
    if (host === undefined) return 'unix';
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }
  /** Async replies not yet written. */
  get inFlight(): number { return this.queue === null ? 0 : this.queue.length - this.queueHead; }

  /** One read from the client. */
  receive(chunk: Buffer): void {
    this.lastActive = Date.now();
    let data = this.pending === null ? chunk : this.pending.append(chunk);
    if (data === undefined) return; // the decoder said the next message needs more
    const protocol = this.protocol;
    this.reading = true;
    try {
      data = protocol.decodeAt !== undefined ? this.decodeAt(data) : this.decodeEach(data);
    } catch (err) {
      this.fail(err instanceof ProtocolError ? 'bad input' : 'protocol failed', err);
      return;
    } finally {
      this.reading = false;
    }
    if (this.dead) return;
    if (data.length !== 0) (this.pending ??= new Cumulator()).keep(data, protocol.expected);
    else if (this.pending !== null) this.pending.keep(data);
    this.flush();
  }

  /** Dispatch every complete message in `data`; return what is left (cursor form: one slice per read). */
  private decodeAt(data: Buffer): Buffer {
    const protocol = this.protocol;
    let start = 0;
    while (start < data.length) {
      const message = protocol.decodeAt!(data, start);
      if (message === undefined) break;
      const next = protocol.next!;
      if (!(next > start)) throw new Error('protocol decodeAt returned a message without consuming input');
      start = next;
      this.dispatch(message);
      if (this.dead) break;
    }
    return start === 0 ? data : data.subarray(start);
  }

  /** The same with `decode`'s `[message, rest]` form. */
  private decodeEach(data: Buffer): Buffer {
    const protocol = this.protocol;
    while (data.length > 0) {
      const decoded = protocol.decode(data);
      const message = decoded[0];
      const rest = decoded[1];
      if (message === undefined) return rest;
      if (rest.length >= data.length) throw new Error('protocol decode returned a message without consuming input');
      data = rest;
      this.dispatch(message);
      if (this.dead) break;
    }
    return data;
  }

  private dispatch(message: unknown): void {
    const server = this.server;
    const request = new Request(this, ++this.requests, message);
    if (++server.requests === server.requestLimit) server.limitReached();
    if (server.preRequest !== undefined) server.preRequest.call(request);
    let result: unknown;
    try {
      result = server.handler(message, request);
    } catch (err) {
      this.fail('handler failed', err);
      return;
    }
    if (result instanceof Promise) this.await(request, result);
    else if (result !== null && typeof result === 'object' && !(result instanceof Uint8Array) &&
             typeof (result as PromiseLike<unknown>).then === 'function') {
      this.await(request, Promise.resolve(result));
    } else this.reply(request, result);
  }

  private reply(request: Request, result: unknown): void {
    request.response = result;
    if (this.server.postRequest !== undefined) this.server.postRequest.call(request, result);
    if (this.queue !== null) {
      request.done = true; // behind a reply still being worked on
      this.queue.push(request);
    } else if (result !== undefined) this.push(result);
  }

  private await(request: Request, promise: Promise<unknown>): void {
    (this.queue ??= []).push(request);
    if (this.inFlight >= MAX_IN_FLIGHT) this.block(BLOCKED_IN_FLIGHT);
    promise.then(
      (result) => this.settle(request, result),
      (err) => this.fail('handler failed', err),
    );
  }

  private settle(request: Request, result: unknown): void {
    if (this.dead) return;
    request.response = result;
    if (this.server.postRequest !== undefined) this.server.postRequest.call(request, result);
    request.done = true;
    const queue = this.queue!;
    let i = this.queueHead;
    for (; i < queue.length && queue[i]!.done; i++) {
      const response = queue[i]!.response;
      if (response !== undefined) this.push(response);
    }
    if (i === queue.length) {
      this.queue = null;
      this.queueHead = 0;
    } else this.queueHead = i;
    if (this.inFlight < MAX_IN_FLIGHT) this.unblock(BLOCKED_IN_FLIGHT);
    if (!this.reading) this.flush();
  }

  /** Add one response to the batch written at the end of this read. */
  private push(response: unknown): void {
    (this.replies ??= [])[this.replyCount++] = response;
  }

  /** Encode the batched responses together and write them with one write. */
  private flush(): void {
    const count = this.replyCount;
    if (count > 0) {
      this.replyCount = 0;
      let data: Encoded;
      try {
        data = this.encode(this.replies!, count);
      } catch (err) {
        this.fail('protocol failed', err);
        return;
      }
      this.lastActive = Date.now();
      if (!this.socket.write(data)) this.block(BLOCKED_WRITE);
    }
    if (this.ending && this.queue === null) this.close();
  }

  private encode(replies: unknown[], count: number): Encoded {
    const protocol = this.protocol;
    if (protocol.encodeInto !== undefined) {
      let total = 0;
      for (let i = 0; i < count; i++) total += protocol.encodedLength!(replies[i]);
      const out = Buffer.allocUnsafe(total);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        offset = protocol.encodeInto(replies[i], out, offset);
        replies[i] = undefined;
      }
      return out;
    }
    if (count === 1) {
      const one = protocol.encode(replies[0]);
      replies[0] = undefined;
      return one;
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const encoded = protocol.encode(replies[i]);
      const part = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
      parts.push(part);
      total += part.length;
      replies[i] = undefined;
    }
    return Buffer.concat(parts, total);
  }

  private block(reason: number): void {
    if (this.blocked === 0) this.socket.pause();
    if (reason === BLOCKED_WRITE && (this.blocked & BLOCKED_WRITE) === 0) this.socket.once('drain', onDrain);
    this.blocked |= reason;
  }

  /** @internal */
  unblock(reason: number): void {
    if ((this.blocked & reason) === 0) return;
    this.blocked &= ~reason;
    if (this.blocked === 0 && !this.dead && !this.ending) this.socket.resume();
  }

  /** @internal The client finished sending: close once every reply is written. */
  finish(): void {
    this.ending = true;
    if (this.queue === null && !this.reading) this.close();
  }

  /** @internal No read or write for keep_alive seconds (the server's sweep found it). */
  idle(): void {
    if (this.queue !== null || this.dead) return; // a handler is still working: not idle
    this.server.log.debug({ conn: this.id, peer: this.peer }, `connection ${this.id} (${this.peer}): idle for ${this.server.keepAliveMs / 1000}s; closed`);
    this.destroy();
  }

  /**
   * Stop serving this client: close at once if nothing is in flight, otherwise
   * stop reading and close after the outstanding replies are written.
   */
  shutdown(): void {
    if (this.dead) return;
    if (this.requests === 0 && this.pending === null && this.socket.bytesRead === 0) {
      // Accepted just before the drain began: its client has had no chance to ask. Its
      // first read is answered, then it is closed (flush sees `ending`).
      this.ending = true;
      setTimeout(() => { if (this.requests === 0 && this.queue === null) this.close(); }, FRESH_GRACE_MS).unref();
      return;
    }
    this.ending = true;
    this.socket.pause();
    if (this.queue === null) this.close();
  }

  /** Send what is written, then close both directions. */
  private close(): void {
    if (this.socket.writableEnded) return;
    this.socket.once('finish', onFinish);
    this.socket.end();
  }

  /** Close now, dropping anything unwritten. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.queue = null;
    this.socket.destroy();
  }

  /**
   * Log one line naming the connection and the reason, then close it. Replies already
   * produced for earlier requests are still sent; nothing more is read or answered.
   */
  fail(what: string, err: unknown): void {
    if (this.dead) return;
    this.dead = true; // nothing more is read or answered (and a failing flush cannot come back here)
    this.error = err instanceof Error ? err : new Error(String(err));
    const log = this.server.log;
    const line = `connection ${this.id} (${this.peer}): ${what}: ${errorMessage(err)}; closed`;
    if (err instanceof ProtocolError) log.warn({ conn: this.id, peer: this.peer }, line);
    else log.error({ conn: this.id, peer: this.peer, err }, line);
    this.queue = null;
    this.flush();
    const socket = this.socket;
    if (socket.writableLength === 0) {
      socket.destroy();
      return;
    }
    // Let the earlier replies drain, but not for long: this client is not served any more.
    socket.pause();
    this.close();
    setTimeout(onFinish.bind(socket), LINGER_MS).unref();
  }

  /** @internal A reset or broken pipe: the client went away. */
  socketError(err: Error): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.server.log.debug({ conn: this.id, peer: this.peer }, `connection ${this.id} (${this.peer}): ${err.message}`);
  }

  /** @internal */
  closed(): void {
    this.dead = true;
    this.queue = null;
    this.server.remove(this);
  }
}
