import type { Socket } from 'node:net';
import { Cumulator } from './cumulator.js';
import { ProtocolError, errorMessage } from '../errors.js';
import { formatPeer } from '../address.js';
import type { Protocol, ProtocolLink } from './protocol.js';
import type { ConnectionSet } from './connection-set.js';
import type { ProxyInfo } from './proxy-stage.js';
import type { TlsInfo } from './tls.js';
import { SAMPLE_EVERY } from './request-times.js';
import { onReads } from './read-slab.js';
import type { PubSub } from './pubsub.js';
import type { Datagram } from './datagram.js';

type Encoded = Buffer | Uint8Array | string;
/** What a protocol writes on its own (ProtocolLink). */
type Own = Uint8Array | string;

/**
 * Why a connection closed: the client finished (clean), it said nothing for keep_alive (idle),
 * it sent what the protocol refuses or too slowly (bad_input), the handler or protocol code
 * failed (handler_error), a request outlived handler_timeout (handler_timeout), it held more
 * memory than max_client_memory or was the largest when all held more than maxmemory_clients
 * (memory_limit), it did not read what was pushed to it (slow_consumer), the client reset it
 * (reset), or the server stopped (shutdown).
 */
export type CloseReason = 'clean' | 'idle' | 'bad_input' | 'handler_error' | 'handler_timeout' | 'memory_limit' | 'slow_consumer' | 'reset' | 'shutdown';

/** One message on a connection, as hooks and the handler see it. */
export class Request<M = unknown> {
  /** The handler's result once known (what `postRequest` gets, and what is encoded). */
  response: unknown = undefined;
  /** @internal Answered, and waiting only for earlier replies (pipelining with async handlers). */
  done = false;
  /** @internal performance.now() when its handler was called, if it is timed (0: not). */
  started = 0;
  /** @internal Date.now() when its handler returned a promise (0: answered at once); handler_timeout counts from it. */
  since = 0;

  constructor(
    /** The connection it came on; for a datagram (udp://), its sender (docs/reference/udp.md). */
    readonly connection: Connection | Datagram,
    /** 1 for the first message on the connection (on the datagram). */
    readonly seq: number,
    readonly message: M,
    /** @internal Its bytes on the wire: what it holds while it waits for its reply. */
    readonly size: number,
  ) {}
}

/**
 * Requests outstanding on one connection (an async reply, or a reply waiting behind one)
 * before no more are decoded or read from this client.
 */
export const MAX_IN_FLIGHT = 1024;
/**
 * Bytes of requests outstanding (their messages, and what a request costs beside them) over
 * which no more are read from this client: a handler that never settles holds little per client.
 */
export const MAX_IN_FLIGHT_BYTES = 1024 * 1024;
/** What an outstanding request costs beside its message: the Request, its promise and reactions. */
const REQUEST_OVERHEAD = 256;
/**
 * Handler time one read's dispatch may take before the event loop is given back (heartbeats,
 * timers, other clients); the rest is dispatched on the next turn. The clock is read every
 * YIELD_CHECK_EVERY messages, so a run of quick requests pays for it once per several.
 */
const YIELD_AFTER_MS = 5;
const YIELD_CHECK_EVERY = 8;

/** Written requests at the front of the reply queue before it is compacted (when they are half of it). */
const COMPACT_AT = 64;
/** A batch of replies longer than this (one huge read of tiny messages) is not kept for the next read. */
const KEEP_BATCH = 1024;
/** How long a failed connection may take to send the replies it was owed before it is closed. */
const LINGER_MS = 2000;
/**
 * How long a connection accepted just before a drain has to send its first request. A client
 * that connected has not been told anything yet: a second was too short for one whose process
 * stalled between connect and write on a loaded machine (it lost the connection with no reply).
 */
export const FRESH_GRACE_MS = 3000;
const BLOCKED_WRITE = 1; // the client is not reading our replies
const BLOCKED_IN_FLIGHT = 2; // too many async replies outstanding
const BLOCKED_YIELD = 4; // this read's dispatch gave the event loop back; it goes on next turn
const kConnection = Symbol('connection');

/**
 * @internal A push, encoded when it was sent: written as it is, in its place among the replies.
 * One publish makes one for all its subscribers (Channels).
 */
export class Pushed {
  constructor(readonly bytes: Uint8Array) {}
}

/**
 * The last batch of pushes only that was joined for a write in this pass (writeQueued), and its
 * bytes: a publish reaching many subscribers makes the same batch for each, joined once and
 * written to all. Let go of at the end of the pass.
 */
const NO_BYTES = Buffer.alloc(0);
let sharedBatch: Pushed[] = [];
let sharedBytes: Buffer = NO_BYTES;

/** The batch `replies[0..count)` (all pushes) joined, reusing the last join when it is the same pushes. */
function joinPushes(replies: unknown[], count: number): Buffer {
  if (count === 1) {
    const bytes = (replies[0] as Pushed).bytes;
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (count === sharedBatch.length) {
    let same = true;
    for (let i = 0; i < count && same; i++) same = replies[i] === sharedBatch[i];
    if (same) return sharedBytes;
  }
  const parts = new Array<Uint8Array>(count);
  let total = 0;
  for (let i = 0; i < count; i++) total += (parts[i] = (replies[i] as Pushed).bytes).length;
  sharedBatch = replies.slice(0, count) as Pushed[];
  sharedBytes = Buffer.concat(parts, total);
  return sharedBytes;
}

type Owned = Socket & { [kConnection]: Connection };

/** Connections with a batch to write at the end of this turn's microtasks: one task for all of them. */
const toFlush: Connection[] = [];
function writeQueued(): void {
  let i = 0;
  const now = Date.now(); // one clock read for the pass, not one per connection
  try {
    // By index: a flush may queue another connection (a hook pushing), written in this pass too.
    for (; i < toFlush.length; i++) toFlush[i]!.flushBatch(now);
  } finally {
    toFlush.splice(0, i + 1);
    sharedBatch = [];
    sharedBytes = NO_BYTES;
    if (toFlush.length > 0) queueMicrotask(writeQueued); // after a throw: the rest still go out
  }
}

// Listeners shared by every socket (no closures per connection: idle connections stay small).
function onData(this: Owned, chunk: Buffer) { this[kConnection].receive(chunk); }
function onBorrow(this: Owned, view: Buffer) { return this[kConnection].borrow(view); }
function onDrain(this: Owned) {
  const connection = this[kConnection];
  connection.lastActive = Date.now(); // the client read our replies: not idle
  connection.unblock(BLOCKED_WRITE);
  connection.account();
}
function onEnd(this: Owned) { this[kConnection].finish(); }
function onError(this: Owned, err: Error) { this[kConnection].socketError(err); }
function onClose(this: Owned) { this[kConnection].closed(); }
function onFinish(this: Socket) { this.destroy(); }

/**
 * The loop of docs/design.md §10 for one client: bytes in, decode every complete
 * message, call the handler, and write the replies of one read with one write, in
 * request order even when async handlers finish out of order. Stops reading a client
 * that is not reading its replies, or that has too many async requests outstanding.
 */
export class Connection {
  /** Messages received so far. */
  requests = 0;
  /** Why the connection closed, if it did not close cleanly. */
  error: Error | undefined = undefined;
  /** Why it closed (set as it closes; `clean` until then). */
  closeReason: CloseReason = 'clean';
  /** When it was accepted (Date.now()). */
  readonly openedAt = Date.now();
  /** When it last read or wrote (Date.now()): the server's keep-alive sweep compares it. */
  lastActive = this.openedAt;
  /** When the first byte of the pending partial message arrived (0: none): the frame_timeout sweep compares it. */
  pendingSince = 0;
  /** Protocol, cipher, ALPN and client certificate of a TLS connection; undefined on a plain one. */
  tls: TlsInfo | undefined = undefined;
  /** What its protocol said of it (ProtocolLink.describe: WebSocket's handshake); undefined until it says. */
  protocolInfo: object | undefined = undefined;
  /** @internal The client address counted against max_connections_per_ip (undefined: not counted). */
  perIp: string | undefined = undefined;
  /**
   * @internal Bytes this connection holds, as last counted (docs/design.md §14): its pending
   * input and what the protocol builds for it, its outstanding requests, its unwritten replies.
   */
  memory = 0;
  /** Bytes of the requests outstanding (their messages and REQUEST_OVERHEAD each). */
  private inFlightBytes = 0;
  /** Pushes sent so far: a connection that has had one is held to the push output limits. */
  pushes = 0;
  /** @internal Channels and patterns it is subscribed to (app.pubsub): while any, keep_alive spares it. */
  subscriptions = 0;
  /** Pushes in the batch of replies to write (0: the batch is replies only, encoded together). */
  private pushesInBatch = 0;
  /** A write of what was batched outside a read is queued (flushSoon). */
  private flushQueued = false;
  /** Date.now() since when unread output has been over push_output_soft_limit (0: it is not). */
  private softSince = 0;
  /** @internal Date.now() at which the protocol asked to be woken (ProtocolLink.wake; 0: not). */
  wakeAt = 0;
  /** Date.now() when the protocol last wrote a liveness probe (ProtocolLink.probe; 0: never). */
  private probedAt = 0;
  /** What the protocol asked to write last, after the replies owed (ProtocolLink.end). */
  private lastWord: Own | undefined = undefined;
  private readonly protocol: Protocol<unknown, unknown>;
  /** Bytes the socket had read before it was this connection's (see the constructor). */
  private readonly readBefore: number;
  /** `protocol.encodesNull`, read once: a handler's null is then a reply. */
  private readonly encodesNull: boolean;
  private pending: Cumulator | null = null;
  /** Requests in order from `queueHead`, while any async reply is outstanding; written ones are cleared. */
  private queue: (Request | undefined)[] | null = null;
  private queueHead = 0;
  /** The pending bytes may hold whole messages, left undecoded while the client had to wait. */
  private stalled = false;
  /** Responses to write at the end of this read (encoded together at flush). */
  private replies: unknown[] | null = null;
  private replyCount = 0;
  private blocked = 0;
  private reading = false;
  /** With a request histogram: when this read's decoding began, and the requests it answered synchronously. */
  private batchStart = 0;
  private batchCount = 0;
  private ending = false;
  private dead = false;

  constructor(
    readonly server: ConnectionSet,
    readonly socket: Socket,
    /** Unique within the process; names the connection in logs. */
    readonly id: number,
    /** Set when the connection came through a PROXY protocol header: the proxy's own address and what it told. */
    readonly proxy: ProxyInfo | undefined = undefined,
  ) {
    // Bytes an accept stage read before this connection (a PROXY header, and what it put back:
    // that comes as this connection's first read).
    this.readBefore = socket.bytesRead;
    this.protocol = server.newProtocol();
    this.encodesNull = this.protocol.encodesNull === true;
    (socket as Owned)[kConnection] = this;
    onReads(socket as Owned, onData, onBorrow);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    if (this.protocol.attach !== undefined) {
      try {
        this.protocol.attach(new Link(this));
      } catch (err) {
        this.fail('protocol failed', err);
      }
    }
  }

  /** The client's address: the PROXY header's source when there is one, else the socket's. */
  get remoteAddress(): string | undefined {
    const source = this.proxy?.source;
    return source !== undefined ? source.address : this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    const source = this.proxy?.source;
    return source !== undefined ? source.port : this.socket.remotePort;
  }
  /** `host:port` of the client, `unix` for a unix-socket client (`unix:PATH` if a PROXY header names one). */
  get peer(): string {
    return formatPeer(this.remoteAddress, this.remotePort);
  }
  /** The channels of this connection's server (subscribe, publish): `app.pubsub`, for handlers that get no app. */
  get pubsub(): PubSub {
    const pubsub = this.server.app.pubsub;
    if (pubsub === undefined) throw new Error('this server has no pub/sub');
    return pubsub;
  }
  /** Async replies not yet written. */
  get inFlight(): number { return this.queue === null ? 0 : this.queue.length - this.queueHead; }

  /**
   * @internal A large read as a view of the process's read buffer, which the next read
   * overwrites: taken only when it goes after pending bytes, where it is copied (receive's
   * `append` or `stash`); otherwise messages would be views of it, so it needs its own buffer.
   */
  borrow(view: Buffer): boolean {
    const pending = this.pending;
    if (!this.dead && (pending === null || pending.length === 0)) return false;
    this.receive(view);
    return true;
  }

  /**
   * Send `value` to the client without a request (a push): encoded by the protocol now, written
   * behind every reply the connection still owes (a push never overtakes the reply to an earlier
   * request) and with the replies of the same turn. False when it was not sent: the connection
   * is closed or closing, `value` is no reply (undefined; null unless the protocol encodes it),
   * or the client has left more unread than the push output limits allow (it is then closed as
   * `slow_consumer`). Throws a TypeError when the protocol cannot encode `value`.
   */
  send(value: unknown): boolean {
    if (this.dead || this.socket.writableEnded || value === undefined || (value === null && !this.encodesNull)) return false;
    return this.sendEncoded(encodeOne(this.protocol, value));
  }

  /** @internal `value` encoded by this connection's protocol, for a push (channels encode a message once for all). */
  encodePush(value: unknown): Uint8Array {
    return encodeOne(this.protocol, value);
  }

  /** @internal Push bytes already encoded by this connection's protocol (see `send`). */
  sendEncoded(bytes: Uint8Array): boolean {
    return this.sendPushed(new Pushed(bytes));
  }

  /** @internal Push a push already made (channels make one per publish for all subscribers). */
  sendPushed(pushed: Pushed): boolean {
    if (this.dead || this.socket.writableEnded) return false;
    const server = this.server;
    const bytes = pushed.bytes;
    if (this.socket.writableLength + bytes.length > server.pushOutputLimit) {
      this.slowConsumer(this.socket.writableLength + bytes.length);
      return false;
    }
    this.pushes++;
    server.pushes++;
    if (this.queue !== null) {
      // Behind replies still being worked on: in their queue, as an answered request.
      const request = new Request(this, 0, undefined, bytes.length);
      request.response = pushed;
      request.done = true;
      this.enqueue(request);
      return true;
    }
    this.pushesInBatch++;
    this.push(pushed);
    if (!this.reading) this.flushSoon();
    return true;
  }

  /**
   * Write what was batched outside a read (pushes, replies of async handlers) once this turn's
   * microtasks are done: a publish to many, or many handlers settling together, make one write
   * per connection, not one per message.
   */
  private flushSoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    if (toFlush.push(this) === 1) queueMicrotask(writeQueued);
  }

  /** @internal Write the batch flushSoon queued (see writeQueued). */
  flushBatch(now: number): void {
    this.flushQueued = false;
    if (this.reading || this.dead) return; // a read's end flushes them
    this.flush(now);
    this.account();
  }

  /** One read from the client. */
  receive(chunk: Buffer): void {
    if (this.dead) return; // failed: nothing more is read
    const now = Date.now();
    this.lastActive = now;
    const pending = this.pending;
    // Pending input over the limit is refused before it is stored (the storage would double).
    if (pending !== null && pending.length + chunk.length > this.server.maxClientMemory) {
      this.overMemory(pending.length + chunk.length, 'max_client_memory');
      return;
    }
    if (this.blocked !== 0) {
      this.stash(chunk);
      this.account();
      return;
    }
    const data = pending === null ? chunk : pending.append(chunk);
    if (data === undefined) {
      this.account(); // the decoder said the next message needs more
      return;
    }
    this.consume(data, now);
  }

  /**
   * Dispatch the messages in `data` until it runs out or the client has to wait (the
   * in-flight cap), keep the rest, and write the replies.
   */
  private consume(data: Buffer, now: number): void {
    const protocol = this.protocol;
    const times = this.server.times;
    let rest: Buffer;
    this.reading = true;
    this.batchStart = performance.now();
    if (times !== undefined) this.batchCount = 0;
    try {
      rest = protocol.decodeAt !== undefined ? this.decodeAt(data) : this.decodeEach(data);
    } catch (err) {
      this.fail(err instanceof ProtocolError ? 'bad input' : 'protocol failed', err);
      return;
    } finally {
      this.reading = false;
      // Every request answered synchronously in this read is timed at once (two clock reads per
      // read, not per request): each gets the read's mean, decoding and hooks included. Also
      // when the read ends in bad input: the requests before it were counted.
      if (times !== undefined && this.batchCount > 0) this.server.handledBatch(this.batchStart, this.batchCount);
    }
    if (this.dead) return;
    if (rest.length === 0) {
      if (this.pending !== null) this.pending.keep(rest);
      this.pendingSince = 0;
    } else {
      // Stopped at the cap, the rest is decoded where it stopped once replies drain (unblock);
      // otherwise it is the start of a message, which has frame_timeout to complete.
      this.stalled = this.blocked !== 0;
      (this.pending ??= new Cumulator(this.server.maxClientMemory)).keep(rest, this.stalled ? 0 : protocol.expected);
      if (rest.length !== data.length || this.pendingSince === 0) this.pendingSince = now;
    }
    this.flush(now);
    this.account();
  }

  /** A read that came while reading is paused: kept, undecoded, behind what is pending. */
  private stash(chunk: Buffer): void {
    const pending = (this.pending ??= new Cumulator(this.server.maxClientMemory));
    const data = pending.append(chunk);
    if (data === undefined) return; // a frame still incomplete: nothing to decode yet
    pending.keep(data);
    this.stalled = true;
  }

  /** Dispatch every complete message in `data`; return what is left (cursor form: one slice per read). */
  private decodeAt(data: Buffer): Buffer {
    const protocol = this.protocol;
    let start = 0;
    let count = 0;
    while (start < data.length) {
      const message = protocol.decodeAt!(data, start);
      if (message === undefined) {
        // Input consumed without a message (ignored by the protocol): skip it and go on.
        if (protocol.next! > start) {
          start = protocol.next!;
          continue;
        }
        break;
      }
      const next = protocol.next!;
      if (!(next > start)) throw new Error('protocol decodeAt returned a message without consuming input');
      const size = next - start;
      start = next;
      this.dispatch(message, size);
      if (this.dead || this.blocked !== 0) break; // at the in-flight cap: the rest waits
      if (++count === YIELD_CHECK_EVERY) {
        count = 0;
        if (this.overBudget()) break;
      }
    }
    if (start === 0) return data;
    // The next read's data begins at 0: a `next` left from this one must not look like progress.
    (protocol as { next: number }).next = 0;
    return data.subarray(start);
  }

  /** The same with `decode`'s `[message, rest]` form. */
  private decodeEach(data: Buffer): Buffer {
    const protocol = this.protocol;
    let count = 0;
    while (data.length > 0) {
      const decoded = protocol.decode(data);
      const message = decoded[0];
      const rest = decoded[1];
      if (message === undefined) return rest;
      if (rest.length >= data.length) throw new Error('protocol decode returned a message without consuming input');
      const size = data.length - rest.length;
      data = rest;
      this.dispatch(message, size);
      if (this.dead || this.blocked !== 0) break;
      if (++count === YIELD_CHECK_EVERY) {
        count = 0;
        if (this.overBudget()) break;
      }
    }
    return data;
  }

  /**
   * This read's dispatch has had its share of the event loop: the rest waits (like a client at
   * the in-flight cap) and goes on at the next turn, after timers and other clients' reads.
   */
  private overBudget(): boolean {
    if (performance.now() - this.batchStart < YIELD_AFTER_MS) return false;
    this.block(BLOCKED_YIELD);
    setImmediate(() => this.unblock(BLOCKED_YIELD));
    return true;
  }

  private dispatch(message: unknown, size: number): void {
    const server = this.server;
    const request = new Request(this, ++this.requests, message, size);
    const n = ++server.requests;
    if (n === server.requestLimit) server.limitReached();
    if (server.preRequest !== undefined) server.preRequest.call(request);
    // Handler time, without a histogram: one request in SAMPLE_EVERY (with one, see consume).
    if (server.times === undefined && n % SAMPLE_EVERY === 0) request.started = performance.now();
    let result: unknown;
    let promise: Promise<unknown> | undefined;
    try {
      result = server.handler(message, request);
      // Inside the try: a thenable's `then` may be a getter that throws.
      if (result instanceof Promise) promise = result;
      else if (result !== null && typeof result === 'object' && !(result instanceof Uint8Array) &&
               typeof (result as PromiseLike<unknown>).then === 'function') promise = Promise.resolve(result);
    } catch (err) {
      // A throw ends the request as a reply would: timed (with its read) as it was counted.
      if (server.times !== undefined) this.batchCount++;
      else if (request.started !== 0) server.handled(request.started);
      const rescued = this.rescue(err, request);
      if (rescued === undefined) this.fail('handler failed', err);
      else {
        request.started = 0; // timed above
        this.reply(request, rescued);
      }
      return;
    }
    if (promise !== undefined) {
      // With a histogram, an async request is timed alone, from the read that carried it.
      if (server.times !== undefined) request.started = this.batchStart;
      this.await(request, promise);
    } else {
      if (server.times !== undefined) this.batchCount++; // timed with its read (consume)
      this.reply(request, result);
    }
  }

  private reply(request: Request, result: unknown): void {
    if (request.started !== 0) this.server.handled(request.started);
    request.response = result;
    if (this.server.postRequest !== undefined) this.server.postRequest.call(request, result);
    if (this.queue !== null) {
      request.done = true; // behind a reply still being worked on
      this.enqueue(request);
    } else if (result !== undefined && (result !== null || this.encodesNull)) this.push(result); // undefined (and null, unless encoded): no reply
  }

  private await(request: Request, promise: Promise<unknown>): void {
    request.since = Date.now();
    this.enqueue(request);
    promise.then(
      (result) => this.settle(request, result),
      (err) => {
        const rescued = this.dead ? undefined : this.rescue(err, request);
        if (rescued !== undefined) return this.settle(request, rescued);
        if (request.started !== 0) this.server.handled(request.started); // a rejection is timed as a reply is
        this.fail('handler failed', err);
      },
    );
  }

  /**
   * The reply the handlerError hook gives for a failed handler (undefined: none, close as
   * without it). Said at debug level: the plugin that answered chose to.
   */
  private rescue(err: unknown, request: Request): unknown {
    const hook = this.server.handlerError;
    if (hook === undefined) return undefined;
    const error = asError(err);
    const reply = hook.call(error, request);
    if (reply !== undefined) {
      this.server.connectionLog('debug', { conn: this.id, peer: this.peer, err: error },
        `connection ${this.id} (${this.peer}): handler failed: ${error.message}; answered by handlerError`);
    }
    return reply;
  }

  /** Queue a request behind the replies outstanding; at the cap, the client waits (sync replies count too). */
  private enqueue(request: Request): void {
    const queue = (this.queue ??= []);
    queue.push(request);
    const bytes = (this.inFlightBytes += request.size + REQUEST_OVERHEAD);
    if (queue.length - this.queueHead >= MAX_IN_FLIGHT || bytes > MAX_IN_FLIGHT_BYTES) this.block(BLOCKED_IN_FLIGHT);
  }

  private settle(request: Request, result: unknown): void {
    // Timed even when the connection is gone meanwhile: the handler did run to its end.
    if (request.started !== 0) this.server.handled(request.started);
    if (this.dead) return;
    request.response = result;
    if (this.server.postRequest !== undefined) this.server.postRequest.call(request, result);
    request.done = true;
    const queue = this.queue!;
    let i = this.queueHead;
    for (; i < queue.length; i++) {
      const next = queue[i]!;
      if (!next.done) break;
      const response = next.response;
      if (response instanceof Pushed) this.pushesInBatch++;
      if (response !== undefined && (response !== null || this.encodesNull)) this.push(response);
      this.inFlightBytes -= next.size + REQUEST_OVERHEAD;
      queue[i] = undefined; // answered: let go of it and of the read its message is a view of
    }
    if (i === queue.length) {
      this.queue = null;
      this.queueHead = 0;
      this.inFlightBytes = 0;
    } else if (i >= COMPACT_AT && i * 2 >= queue.length) {
      // Requests that keep arriving keep the queue from emptying: drop its answered front
      // (moving at most as many as are dropped, so each request is moved about once).
      queue.copyWithin(0, i);
      queue.length -= i;
      this.queueHead = 0;
    } else this.queueHead = i;
    if (this.inFlight < MAX_IN_FLIGHT && this.inFlightBytes <= MAX_IN_FLIGHT_BYTES) this.unblock(BLOCKED_IN_FLIGHT);
    if (!this.reading) this.flushSoon();
  }

  /** @internal The oldest request still waiting for its handler (undefined: none). */
  get oldestWaiting(): Request | undefined {
    const queue = this.queue;
    if (queue === null) return undefined;
    for (let i = this.queueHead; i < queue.length; i++) if (!queue[i]!.done) return queue[i];
    return undefined;
  }

  /** Add one response to the batch written at the end of this read. */
  private push(response: unknown): void {
    (this.replies ??= [])[this.replyCount++] = response;
  }

  /** Encode the batched responses together and write them with one write; `now` is Date.now(), read by the caller. */
  private flush(now = Date.now()): void {
    const count = this.replyCount;
    if (count > 0) {
      this.replyCount = 0;
      const replies = this.replies!;
      const pushes = this.pushesInBatch;
      this.pushesInBatch = 0;
      let data: Encoded | number;
      try {
        data = pushes === 0 ? this.encode(replies, 0, count) : this.encodeMixed(replies, count, pushes === count);
      } catch (err) {
        this.writeEncodable(replies, count);
        this.release(replies, count);
        this.fail('cannot encode reply', err);
        return;
      }
      this.release(replies, count);
      if (typeof data === 'number') {
        this.overMemory(data, 'max_client_memory', 'would hold with its replies');
        return;
      }
      this.lastActive = now;
      if (!this.socket.write(data)) this.block(BLOCKED_WRITE);
    }
    if (this.ending && this.queue === null && !this.stalled) this.close();
  }

  /**
   * The replies `from` to `to` (exclusive) as one buffer, or a TypeError if the protocol cannot
   * give one. When they would take the connection over max_client_memory, what it would then
   * hold (a number), without encoding them if the protocol tells their length first.
   */
  private encode(replies: unknown[], from: number, to: number): Encoded | number {
    const protocol = this.protocol;
    if (protocol.encodeInto !== undefined) {
      let total = 0;
      for (let i = from; i < to; i++) total += protocol.encodedLength!(replies[i]);
      if (!Number.isSafeInteger(total) || total < 0) throw new TypeError(`protocol encodedLength gave ${total} bytes`);
      const holding = this.holdingWith(total);
      if (holding !== 0) return holding;
      const out = Buffer.allocUnsafe(total);
      let offset = 0;
      for (let i = from; i < to; i++) offset = protocol.encodeInto(replies[i], out, offset);
      if (offset !== total) throw new TypeError(`protocol encodeInto wrote ${offset} bytes where encodedLength gave ${total}`);
      return out;
    }
    let out: Encoded;
    if (to - from === 1) out = writable(protocol.encode(replies[from]));
    else {
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = from; i < to; i++) {
        const encoded = writable(protocol.encode(replies[i]));
        const part = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
        parts.push(part);
        total += part.length;
      }
      out = Buffer.concat(parts, total);
    }
    // A string's length in characters is at most its bytes: a cheap first look.
    return this.holdingWith(out.length) || out;
  }

  /** The first `count` replies, pushes among them: each reply encoded on its own, the pushes' bytes as they are, joined in order. */
  private encodeMixed(replies: unknown[], count: number, pushesOnly: boolean): Encoded | number {
    if (pushesOnly) {
      const joined = joinPushes(replies, count);
      return this.holdingWith(joined.length) || joined;
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const reply = replies[i];
      const part = reply instanceof Pushed ? reply.bytes : encodeOne(this.protocol, reply);
      parts.push(part);
      total += part.length;
    }
    return this.holdingWith(total) || Buffer.concat(parts, total);
  }

  /** What the connection would hold with `bytes` more of replies, if that is over max_client_memory; else 0. */
  private holdingWith(bytes: number): number {
    const holding = bytes + this.socket.writableLength + this.inFlightBytes;
    return holding > this.server.maxClientMemory ? holding : 0;
  }

  /** A batch failed to encode: write, one by one, the replies before the one that failed (they are owed). */
  private writeEncodable(replies: unknown[], count: number): void {
    for (let i = 0; i < count; i++) {
      let data: Encoded | number;
      try {
        const reply = replies[i];
        data = reply instanceof Pushed ? reply.bytes : this.encode(replies, i, i + 1);
      } catch {
        return;
      }
      if (typeof data === 'number') return;
      this.socket.write(data);
    }
  }

  /** Let go of written responses; a batch array grown by one huge read is not kept at all. */
  private release(replies: unknown[], count: number): void {
    if (count > KEEP_BATCH) this.replies = null;
    else for (let i = 0; i < count; i++) replies[i] = undefined;
  }

  private block(reason: number): void {
    if (this.blocked === 0) this.socket.pause();
    if (reason === BLOCKED_WRITE && (this.blocked & BLOCKED_WRITE) === 0) this.socket.once('drain', onDrain);
    this.blocked |= reason;
  }

  /**
   * @internal Reading may go on: first decode what was left undecoded when the client had
   * to wait (which may block it again), then read the socket.
   */
  unblock(reason: number): void {
    if ((this.blocked & reason) === 0) return;
    this.blocked &= ~reason;
    if (this.blocked !== 0 || this.dead) return;
    if (this.pendingSince !== 0) this.pendingSince = Date.now(); // the client could not send meanwhile
    if (this.stalled) {
      this.stalled = false;
      this.consume(this.pending!.view(), Date.now());
      if (this.blocked !== 0 || this.dead) return;
    }
    if (!this.ending) this.socket.resume();
  }

  /**
   * @internal Count what this connection holds now (docs/design.md §14), and close it when that
   * is over max_client_memory, or the largest connection when all are over maxmemory_clients.
   * Read once per read and per flush: a few fields, no allocation.
   */
  account(): void {
    if (this.dead) return;
    const pending = this.pending;
    const held = this.protocol.held;
    const memory = (pending === null ? 0 : pending.capacity) + (held === undefined ? 0 : held) +
      this.inFlightBytes + this.socket.writableLength;
    const before = this.memory;
    if (memory === before) return;
    this.memory = memory;
    const server = this.server;
    server.clientMemory += memory - before;
    if (this.pushes > 0 && this.overPushLimits()) return;
    if (memory > server.maxClientMemory) this.overMemory(memory, 'max_client_memory');
    else if (server.clientMemory > server.maxmemoryClients) server.evict();
  }

  /**
   * A connection that is pushed to and does not read: over push_output_limit unread, or over
   * push_output_soft_limit for push_output_soft_seconds, it is closed (Redis's
   * client-output-buffer-limit for pub/sub clients). Publishers are never made to wait for it.
   */
  private overPushLimits(): boolean {
    const server = this.server;
    const unread = this.socket.writableLength;
    if (unread > server.pushOutputLimit) return this.slowConsumer(unread);
    if (unread <= server.pushOutputSoftLimit) {
      this.softSince = 0;
      return false;
    }
    const now = Date.now();
    if (this.softSince === 0) this.softSince = now;
    else if (now - this.softSince >= server.pushOutputSoftMs) return this.slowConsumer(unread, (now - this.softSince) / 1000);
    return false;
  }

  /** Closed for not reading what was pushed to it: `unread` bytes waiting (for `seconds` over the soft limit). */
  private slowConsumer(unread: number, seconds?: number): true {
    const server = this.server;
    const why = seconds === undefined
      ? `over push_output_limit=${mib(server.pushOutputLimit)}`
      : `over push_output_soft_limit=${mib(server.pushOutputSoftLimit)} for ${seconds.toFixed(0)}s`;
    server.connectionLog('warn', { conn: this.id, peer: this.peer, unread },
      `connection ${this.id} (${this.peer}): slow consumer: ${mib(unread)} unread, ${why}; closed`);
    this.destroy('slow_consumer');
    return true;
  }

  /** @internal Over a memory limit: say so and close at once, dropping what it holds. */
  overMemory(holding: number, limit: 'max_client_memory' | 'maxmemory_clients', holds = 'holds'): void {
    if (this.dead) {
      this.releaseMemory(); // already closing (lingering after a failure): about to let go
      return;
    }
    const server = this.server;
    const why = limit === 'max_client_memory'
      ? `${holds} ${mib(holding)}, over max_client_memory=${mib(server.maxClientMemory)}`
      : `holds the most (${mib(holding)}) of all connections, which hold over maxmemory_clients=${mib(server.maxmemoryClients)}`;
    server.connectionLog('warn', { conn: this.id, peer: this.peer, memory: holding }, `connection ${this.id} (${this.peer}): ${why}; closed`);
    this.destroy('memory_limit');
  }

  /** @internal Its oldest request has waited handler_timeout for its handler (the server's sweep found it). */
  handlerTimedOut(request: Request): void {
    if (this.dead) return;
    const line = `connection ${this.id} (${this.peer}): request ${request.seq} not answered after ${this.server.handlerTimeoutMs / 1000}s (--handler-timeout); closed`;
    this.server.connectionLog('warn', { conn: this.id, peer: this.peer, request: request.seq }, line);
    this.destroy('handler_timeout');
  }

  /** @internal The client finished sending: close once every reply is written. */
  finish(): void {
    this.ending = true;
    if (this.queue === null && !this.stalled && !this.reading) this.close();
  }

  /** @internal No read or write for keep_alive seconds (the server's sweep found it). */
  idle(): void {
    // A handler still working is not idle; nor is a subscriber waiting for messages (as Redis
    // spares pub/sub clients), unless it left a probe of the protocol's unanswered (a ping).
    if (this.queue !== null || this.dead) return;
    const unanswered = this.probedAt !== 0 && this.probedAt >= this.lastActive;
    if (this.subscriptions > 0 && !unanswered) return;
    this.server.connectionLog('debug', { conn: this.id, peer: this.peer },
      `connection ${this.id} (${this.peer}): idle for ${this.server.keepAliveMs / 1000}s${unanswered ? ', a ping unanswered' : ''}; closed`);
    this.destroy('idle');
  }

  /** @internal The time the protocol asked for (wakeAt) has come (the server's sweep found it). */
  wake(now: number): void {
    this.wakeAt = 0;
    if (this.dead) return;
    try {
      this.protocol.wake?.(now);
    } catch (err) {
      this.fail(err instanceof ProtocolError ? 'timed out' : 'protocol failed', err);
    }
  }

  /** @internal ProtocolLink.write and probe: the protocol's own bytes, written now. */
  writeOwn(bytes: Own, probe: boolean): void {
    if (this.dead || this.socket.writableEnded) return;
    if (probe) this.probedAt = Date.now();
    if (!this.socket.write(bytes)) this.block(BLOCKED_WRITE);
  }

  /** @internal ProtocolLink.end: `last` after every reply owed, then close (as when the client ends). */
  endWith(last: Own | undefined): void {
    if (this.dead || this.lastWord !== undefined || this.socket.writableEnded) return;
    this.lastWord = last ?? NO_BYTES;
    this.ending = true;
    if (this.queue === null && !this.stalled && !this.reading) this.close();
  }

  /** @internal ProtocolLink.wake. */
  wakeIn(ms: number): void {
    this.wakeAt = ms > 0 ? Date.now() + ms : 0;
    if (ms > 0) this.server.sweepWithin(ms);
  }

  /** The protocol's last word when the server ends the connection itself (Protocol.goodbye), if any. */
  private goodbye(reason: CloseReason): Own | undefined {
    if (this.protocol.goodbye === undefined) return undefined;
    try {
      return this.protocol.goodbye(reason);
    } catch {
      return undefined; // the connection closes all the same
    }
  }

  /**
   * @internal The pending partial message began frame_timeout ago (the server's sweep found
   * it). Not while the client is made to wait: then it cannot send.
   */
  frameTimedOut(): void {
    if (this.dead || this.blocked !== 0) return;
    this.fail('timed out', new ProtocolError(`message incomplete after ${this.server.frameTimeoutMs / 1000}s (--frame-timeout)`));
  }

  /**
   * Stop serving this client: close at once if nothing is in flight, otherwise
   * stop reading and close after the outstanding replies are written.
   */
  shutdown(): void {
    if (this.dead) return;
    this.closeReason = 'shutdown';
    if (this.requests === 0 && this.pending === null && this.socket.bytesRead === this.readBefore) {
      // Accepted just before the drain began: its client has had no chance to ask. Its
      // first read is answered, then it is closed (flush sees `ending`).
      this.ending = true;
      setTimeout(() => { if (this.requests === 0 && this.queue === null) this.close(); }, FRESH_GRACE_MS).unref();
      return;
    }
    this.ending = true;
    this.socket.pause();
    if (this.queue === null && !this.stalled) this.close();
  }

  /** Send what is written (and the protocol's last word, if it has one), then close both directions. */
  private close(): void {
    if (this.socket.writableEnded) return;
    this.socket.once('finish', onFinish);
    const last = this.lastWord ?? (this.closeReason === 'shutdown' ? this.goodbye('shutdown') : undefined);
    if (last !== undefined && last.length > 0) this.socket.end(last);
    else this.socket.end();
  }

  /** Close now, dropping anything unwritten and what was pending. */
  destroy(reason: CloseReason = 'shutdown'): void {
    if (this.dead) return;
    this.closeReason = reason;
    this.dead = true;
    this.queue = null;
    this.pending = null;
    this.replies = null;
    this.replyCount = 0;
    this.releaseMemory();
    this.socket.destroy();
  }

  /** What it held is no longer counted (it is let go of, or about to be). */
  private releaseMemory(): void {
    this.server.clientMemory -= this.memory;
    this.memory = 0;
  }

  /**
   * Log one line naming the connection and the reason, then close it. Replies already
   * produced for earlier requests are still sent; nothing more is read or answered.
   */
  fail(what: string, err: unknown): void {
    if (this.dead) return;
    this.dead = true; // nothing more is read or answered (and a failing flush cannot come back here)
    const error = asError(err);
    this.error = error;
    this.closeReason = error instanceof ProtocolError ? 'bad_input' : 'handler_error';
    const line = `connection ${this.id} (${this.peer}): ${what}: ${error.message}; closed`;
    const fields = { conn: this.id, peer: this.peer };
    if (error instanceof ProtocolError) this.server.connectionLog('warn', fields, line);
    else {
      try {
        this.server.connectionLog('error', { ...fields, err: error }, line);
      } catch {
        this.server.connectionLog('error', fields, line); // an error object the logger could not serialise
      }
    }
    this.queue = null;
    this.stalled = false;
    // The protocol's last word (e.g. RESP's `-ERR Protocol error: ...`, WebSocket's close frame),
    // after the replies owed; it replaces one the protocol had asked for (ProtocolLink.end).
    const last = error instanceof ProtocolError ? error.reply : this.goodbye('handler_error');
    this.lastWord = undefined;
    this.flush();
    const socket = this.socket;
    if (last !== undefined && !socket.destroyed && !socket.writableEnded) socket.write(last);
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
    if (this.closeReason === 'clean') this.closeReason = 'reset';
    this.server.connectionLog('debug', { conn: this.id, peer: this.peer }, `connection ${this.id} (${this.peer}): ${err.message}`);
  }

  /** @internal */
  closed(): void {
    this.dead = true;
    this.queue = null;
    this.stalled = false;
    this.releaseMemory();
    this.server.remove(this);
  }
}

/** A connection as its protocol sees it (Protocol.attach): made only for a protocol that asks. */
class Link implements ProtocolLink {
  constructor(private readonly connection: Connection) {}
  write(bytes: Own): void { this.connection.writeOwn(bytes, false); }
  probe(bytes: Own): void { this.connection.writeOwn(bytes, true); }
  end(last?: Own): void { this.connection.endWith(last); }
  wake(ms: number): void { this.connection.wakeIn(ms); }
  describe(info: object): void { this.connection.protocolInfo = info; }
  get lastActive(): number { return this.connection.lastActive; }
  get peer(): string { return this.connection.peer; }
}

/** Anything thrown or rejected, as an Error with a message: even a value whose conversion to text throws. */
function asError(err: unknown): Error {
  try {
    if (err instanceof Error && typeof err.message === 'string') return err;
    return new Error(errorMessage(err));
  } catch {
    return new Error('a value that cannot be printed');
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One reply encoded by `protocol`, as bytes (a TypeError if it cannot be). */
/** @internal One value encoded by `protocol`, as bytes. */
export function encodeOne(protocol: Protocol<unknown, unknown>, value: unknown): Uint8Array {
  if (protocol.encodeInto !== undefined) {
    const length = protocol.encodedLength!(value);
    if (!Number.isSafeInteger(length) || length < 0) throw new TypeError(`protocol encodedLength gave ${length} bytes`);
    const out = Buffer.allocUnsafe(length);
    const end = protocol.encodeInto(value, out, 0);
    if (end !== length) throw new TypeError(`protocol encodeInto wrote ${end} bytes where encodedLength gave ${length}`);
    return out;
  }
  const encoded = writable(protocol.encode(value));
  return typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
}

/** What a protocol's `encode` returned, if a socket can write it. */
function writable(encoded: unknown): Encoded {
  if (typeof encoded === 'string' || encoded instanceof Uint8Array) return encoded;
  throw new TypeError(`protocol encode returned ${kindOf(encoded)}, not a string, Buffer or Uint8Array`);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  const kind = Array.isArray(value) ? 'array' : typeof value;
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
