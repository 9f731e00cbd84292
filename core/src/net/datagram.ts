import { createSocket, type RemoteInfo, type SocketOptions, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type Address, formatAddress, formatPeer } from '../address.js';
import { ProtocolError, StartupError, UsageError, errorMessage } from '../errors.js';
import { encodeOne, Request } from './connection.js';
import type { ConnectionSet } from './connection-set.js';
import { DATAGRAM, type Protocol } from './protocol.js';
import type { PubSub } from './pubsub.js';

type UdpAddress = Extract<Address, { kind: 'udp' }>;

/** One bound udp:// address. */
export interface DatagramListener {
  readonly address: UdpAddress;
  readonly socket: UdpSocket;
  /** The address as bound: the real port when 0 was asked for. */
  readonly bound: string;
}

/**
 * Why a datagram, or one of its replies, was dropped (docs/reference/udp.md): it did not decode
 * (bad_input), a reply was over udp_max_reply (too_large) or over the amplification allowance
 * (amplification), the handler failed (handler_error) or did not settle within handler_timeout
 * (handler_timeout), too many handlers were still running (overload), or the kernel refused the
 * send (send_error).
 */
export const DATAGRAM_DROPS = ['bad_input', 'too_large', 'amplification', 'handler_error', 'handler_timeout', 'overload', 'send_error'] as const;
export type DatagramDrop = typeof DATAGRAM_DROPS[number];

export interface DatagramStats {
  readonly received: number;
  readonly replied: number;
  readonly dropped: Readonly<Record<DatagramDrop, number>>;
}

/**
 * Requests of datagrams whose handler has not settled yet, over which new datagrams are dropped (overload):
 * a sender cannot make the server hold more than this many requests (UDP has no back-pressure).
 */
export const MAX_DATAGRAMS_IN_FLIGHT = 1024;

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
};

/**
 * bind(2) a UDP socket on `addr`; failures as one line naming the address. With `reusePort`
 * (SO_REUSEPORT, Node >= 22.12) other sockets may join the port's group, each getting its share
 * of senders from the kernel: one per worker (docs/design.md §16).
 */
export async function bindDatagram(addr: UdpAddress, setting: string, reusePort = false): Promise<DatagramListener> {
  // `udp://:PORT` is every interface: IPv6's `::` (which takes IPv4 too), or IPv4's where there is no IPv6.
  const attempts: ['udp4' | 'udp6', string | undefined][] = addr.host === undefined
    ? [['udp6', '::'], ['udp4', '0.0.0.0']]
    : [[isIPv6(addr.host) ? 'udp6' : 'udp4', addr.host]];
  let failure: NodeJS.ErrnoException | undefined;
  for (const [type, host] of attempts) {
    // reusePort is in Node's SocketOptions from 22.12; @types/node 20 does not know it.
    const socket = createSocket({ type, ...(reusePort ? { reusePort: true } : {}) } as SocketOptions);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(addr.port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return { address: addr, socket, bound: formatAddress(addr, socket.address().port) };
    } catch (err) {
      socket.close();
      failure = err as NodeJS.ErrnoException;
      if (failure.code !== 'EAFNOSUPPORT') break;
    }
  }
  const code = failure?.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    throw new UsageError(`invalid ${setting} "${addr.text}": cannot resolve host "${addr.host ?? ''}"`);
  }
  throw new StartupError(`cannot bind ${addr.text}: ${REASONS[code] ?? failure?.message ?? code}`);
}

/**
 * Bind an address anew for a group of SO_REUSEPORT sockets. A plain bind first proves the port
 * free (and picks it, for port 0): with SO_REUSEPORT alone, a second `ss` of the same user would
 * join a running one's group and take a share of its senders rather than fail.
 */
async function bindGroup(addr: UdpAddress, setting: string): Promise<DatagramListener> {
  const probe = await bindDatagram(addr, setting);
  const port = probe.socket.address().port;
  await new Promise<void>((resolve) => probe.socket.close(() => resolve()));
  return bindDatagram({ ...addr, port }, setting, true);
}

/** Bind every udp:// address, or none: on failure the ones already bound are closed. */
export async function bindDatagrams(addrs: readonly Address[], setting: string, reusePort = false): Promise<DatagramListener[]> {
  const bound: DatagramListener[] = [];
  try {
    for (const addr of addrs) if (addr.kind === 'udp') bound.push(await (reusePort ? bindGroup(addr, setting) : bindDatagram(addr, setting)));
  } catch (err) {
    for (const d of bound) closeQuietly(d);
    throw err;
  }
  return bound;
}

/** Close a UDP socket, closed already or not. */
export function closeQuietly(d: DatagramListener): void {
  try {
    d.socket.close();
  } catch {
    // closed already (ERR_SOCKET_DGRAM_NOT_RUNNING)
  }
}

/**
 * What a datagram's requests carry as `request.connection`: its sender, for this datagram only
 * (no state is kept per peer, so no sender grows memory). `send` sends a datagram to the peer,
 * within the datagram's amplification allowance.
 */
export class Datagram {
  /** Messages this datagram carried so far (request.seq counts from 1 in each datagram). */
  requests = 0;
  /** When it arrived (Date.now()). */
  readonly openedAt = Date.now();
  readonly lastActive = this.openedAt;
  /** As on a connection: datagrams have neither. */
  readonly tls = undefined;
  readonly proxy = undefined;
  readonly protocolInfo = undefined;
  /** Marks a datagram among a request's connections. */
  readonly kind = 'dgram';
  /** Datagrams sent to the peer through `send`, replies included. */
  pushes = 0;
  /** Bytes its replies may still take (the amplification allowance); Infinity: no limit. */
  private allowance: number;
  /** A handler failed: nothing more is sent for this datagram. */
  failed = false;

  constructor(
    private readonly served: DatagramServer,
    private readonly udp: UdpSocket,
    private readonly from: RemoteInfo,
    /** Unique within the process, shared with connections' numbering only in name. */
    readonly id: number,
    /** Its size: what the allowance is a multiple of. */
    readonly size: number,
    factor: number,
    readonly protocol: Protocol<unknown, unknown>,
  ) {
    this.allowance = factor === 0 ? Infinity : factor * size;
  }

  get remoteAddress(): string { return this.from.address; }
  get remotePort(): number { return this.from.port; }
  /** `host:port` of the sender. */
  get peer(): string { return formatPeer(this.from.address, this.from.port); }
  get server(): ConnectionSet { return this.served.set; }
  /** The channels of this server, as on a connection (a datagram itself cannot subscribe: it is gone after its replies). */
  get pubsub(): PubSub {
    const pubsub = this.served.set.app.pubsub;
    if (pubsub === undefined) throw new Error('this server has no pub/sub');
    return pubsub;
  }

  /**
   * Send `value`, encoded by the protocol, to the peer as one datagram. False when it was not
   * sent: nothing to send (undefined, or null unless the protocol encodes it), the handler
   * failed, or it was dropped (over udp_max_reply or the amplification allowance; counted).
   */
  send(value: unknown): boolean {
    if (this.failed || value === undefined || (value === null && this.protocol.encodesNull !== true)) return false;
    const bytes = encodeOne(this.protocol, value);
    const served = this.served;
    if (bytes.length > served.maxReply) {
      served.drop('too_large', `a reply of ${bytes.length} bytes to ${this.peer} is over udp_max_reply=${served.maxReply}; dropped`);
      return false;
    }
    if (bytes.length > this.allowance) {
      served.drop('amplification', `replies to a ${this.size}-byte datagram from ${this.peer} would exceed ${served.factorOf(this.protocol)}x its size (udp_amplification); dropped`);
      return false;
    }
    this.allowance -= bytes.length;
    this.pushes++;
    return served.sendTo(this.udp, bytes, this.from);
  }
}

/** Every message of one datagram; bytes left over that are not a whole message make it malformed. */
function decodeAll(protocol: Protocol<unknown, unknown>, data: Buffer): { message: unknown; size: number }[] {
  const out: { message: unknown; size: number }[] = [];
  if (protocol.decodeAt !== undefined) {
    let start = 0;
    while (start < data.length) {
      const message = protocol.decodeAt(data, start);
      const next = protocol.next!;
      if (message === undefined) {
        if (next > start) { start = next; continue; } // input the protocol ignores
        break;
      }
      if (!(next > start)) throw new Error('protocol decodeAt returned a message without consuming input');
      out.push({ message, size: next - start });
      start = next;
    }
    if (start < data.length) throw new ProtocolError(`${data.length - start} byte(s) left over that are not a whole message`);
    return out;
  }
  while (data.length > 0) {
    const [message, rest] = protocol.decode(data);
    if (message === undefined) {
      if (rest.length > 0) throw new ProtocolError(`${rest.length} byte(s) left over that are not a whole message`);
      break;
    }
    if (rest.length >= data.length) throw new Error('protocol decode returned a message without consuming input');
    out.push({ message, size: data.length - rest.length });
    data = rest;
  }
  return out;
}

/**
 * The datagrams of one process (docs/design.md §16): each is decoded afresh by the server's
 * protocol, its messages go through preRequest, the handler and postRequest as a connection's
 * do, and each reply goes back to the sender as one datagram. Nothing is kept per sender.
 */
export class DatagramServer {
  received = 0;
  replied = 0;
  readonly dropped = Object.fromEntries(DATAGRAM_DROPS.map((r) => [r, 0])) as Record<DatagramDrop, number>;
  readonly maxReply: number;
  private readonly factor: number;
  /** handler_timeout in ms (0: none): an async handler still running then frees its place among MAX_DATAGRAMS_IN_FLIGHT. */
  private readonly timeoutMs: number;
  private listeners: readonly DatagramListener[] = [];
  private inFlight = 0;
  /** It has read a socket: its counters are reported. */
  private serving = false;
  private nextId = 0;
  /** Per drop reason: when its last line was written, and how many were not written since. */
  private readonly lines = new Map<DatagramDrop, { at: number; suppressed: number }>();

  constructor(readonly set: ConnectionSet, cfg: { readonly udp_max_reply: number; readonly udp_amplification: number; readonly handler_timeout: number }) {
    this.maxReply = cfg.udp_max_reply;
    this.factor = cfg.udp_amplification;
    this.timeoutMs = cfg.handler_timeout * 1000;
    set.datagramStats = () => this.snapshot();
  }

  /** Serve the datagrams of `listeners` (the per-request hooks are those ConnectionSet.start took). */
  start(listeners: readonly DatagramListener[]): void {
    for (const l of listeners) this.serve(l);
  }

  /** Serve one more socket (a worker's copy of the arbiter's, handed over once it is ready). */
  serve(l: DatagramListener): void {
    this.serving = true;
    this.listeners = [...this.listeners, l];
    const socket = l.socket;
    socket.on('message', (data, from) => this.receive(socket, data, from));
    // An ICMP error for an earlier send, say: logged, never fatal.
    socket.on('error', (err) => this.drop('send_error', `${l.bound}: ${err.message}`, false));
  }

  /** Stop receiving: replies of handlers still running are dropped. */
  async close(): Promise<void> {
    const listeners = this.listeners;
    this.listeners = [];
    await Promise.all(listeners.map((l) => new Promise<void>((resolve) => {
      try {
        l.socket.close(() => resolve());
      } catch {
        resolve(); // closed already
      }
    })));
  }

  /** Its counters, once it has read a socket (a process without udp:// binds reports none). */
  snapshot(): { datagrams: DatagramStats } | undefined {
    if (!this.serving) return undefined;
    return { datagrams: { received: this.received, replied: this.replied, dropped: { ...this.dropped } } };
  }

  /** @internal The factor a protocol's replies are held to. */
  factorOf(protocol: Protocol<unknown, unknown>): number {
    return protocol.datagramAmplification ?? this.factor;
  }

  /** @internal Count a drop and log it: at most one line a second per reason, with how many were not logged. */
  drop(reason: DatagramDrop, why: string, count = true): void {
    if (count) this.dropped[reason]++;
    const now = Date.now();
    const line = this.lines.get(reason);
    if (line !== undefined && now - line.at < 1000) {
      line.suppressed++;
      return;
    }
    const suppressed = line?.suppressed ?? 0;
    this.lines.set(reason, { at: now, suppressed: 0 });
    this.set.log.warn({ datagram: reason, suppressed }, `datagram ${reason}: ${why}${suppressed > 0 ? ` (${suppressed} more like it not logged)` : ''}`);
  }

  /** @internal */
  sendTo(socket: UdpSocket, bytes: Uint8Array, to: RemoteInfo): boolean {
    try {
      socket.send(bytes, to.port, to.address, (err) => {
        if (err) this.drop('send_error', `to ${formatPeer(to.address, to.port)}: ${err.message}`);
      });
    } catch (err) {
      this.drop('send_error', errorMessage(err)); // the socket closed (stopping)
      return false;
    }
    this.replied++;
    return true;
  }

  private receive(socket: UdpSocket, data: Buffer, from: RemoteInfo): void {
    this.received++;
    const set = this.set;
    if (this.inFlight >= MAX_DATAGRAMS_IN_FLIGHT) {
      this.drop('overload', `${MAX_DATAGRAMS_IN_FLIGHT} requests are still with their handler; a datagram from ${formatPeer(from.address, from.port)} dropped`);
      return;
    }
    const protocol = set.newProtocol(DATAGRAM);
    const datagram = new Datagram(this, socket, from, ++this.nextId, data.length, this.factorOf(protocol), protocol);
    let messages;
    try {
      messages = decodeAll(protocol, data);
    } catch (err) {
      const what = err instanceof ProtocolError ? 'bad_input' : 'handler_error';
      this.drop(what, `a ${data.length}-byte datagram from ${datagram.peer} did not decode: ${errorMessage(err)}; dropped`);
      return;
    }
    for (const { message, size } of messages) {
      if (datagram.failed) break;
      this.dispatch(datagram, message, size);
    }
  }

  private dispatch(datagram: Datagram, message: unknown, size: number): void {
    const set = this.set;
    const request = new Request(datagram, ++datagram.requests, message, size);
    const n = ++set.requests;
    if (n === set.requestLimit) set.limitReached();
    let result: unknown;
    try {
      if (set.preRequest !== undefined) set.preRequest.call(request);
      result = set.handler(message, request);
    } catch (err) {
      this.failed(datagram, request, err);
      return;
    }
    if (result !== null && typeof result === 'object' && !(result instanceof Uint8Array) && typeof (result as PromiseLike<unknown>).then === 'function') {
      this.pending(datagram, request, result as PromiseLike<unknown>);
    } else this.answer(datagram, request, result);
  }

  /** An async handler's reply: answered when it settles, or dropped at handler_timeout (which frees its place). */
  private pending(datagram: Datagram, request: Request, result: PromiseLike<unknown>): void {
    this.inFlight++;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.inFlight--;
      if (timer !== undefined) clearTimeout(timer);
      return true;
    };
    if (this.timeoutMs > 0) {
      timer = setTimeout(() => {
        if (!settle()) return;
        datagram.failed = true;
        this.drop('handler_timeout', `request ${request.seq} of a datagram from ${datagram.peer}: no reply within handler_timeout=${this.timeoutMs / 1000}s; its replies dropped`);
      }, this.timeoutMs);
      timer.unref();
    }
    Promise.resolve(result).then(
      (value) => { if (settle()) this.answer(datagram, request, value); },
      (err: unknown) => { if (settle()) this.failed(datagram, request, err); },
    );
  }

  private answer(datagram: Datagram, request: Request, result: unknown): void {
    if (datagram.failed) return;
    request.response = result;
    try {
      if (this.set.postRequest !== undefined) this.set.postRequest.call(request, result);
      datagram.send(result);
    } catch (err) {
      this.failed(datagram, request, err); // an encode that throws
    }
  }

  /** A handler failed: the handlerError hook's reply if it gives one, else nothing more for this datagram. */
  private failed(datagram: Datagram, request: Request, err: unknown): void {
    const hook = this.set.handlerError;
    const error = err instanceof Error ? err : new Error(errorMessage(err));
    let rescued: unknown;
    try {
      rescued = hook?.call(error, request);
    } catch {
      rescued = undefined;
    }
    if (rescued !== undefined) {
      this.answer(datagram, request, rescued);
      return;
    }
    datagram.failed = true;
    this.drop('handler_error', `request ${request.seq} of a datagram from ${datagram.peer}: ${error.message}; its replies dropped`);
  }
}
