import { BlockList, type Socket } from 'node:net';
import { formatPeer, type AllowEntry } from '../address.js';
import { ProxyHeaderParser, type ProxyEndpoint, type ProxyMode, type ProxyTlvs } from './proxy-header.js';

/** What a connection that came through a PROXY header knows of the proxy (`connection.proxy`). */
export interface ProxyInfo {
  /** The proxy's own end of the TCP connection. */
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly version: 1 | 2;
  readonly command: 'local' | 'proxy';
  readonly tlvs: ProxyTlvs;
  /** The client, as the header tells it; undefined when the real endpoints stand (LOCAL, UNKNOWN, UNSPEC). */
  readonly source: ProxyEndpoint | undefined;
  /** The address the client connected to, as the header tells it. */
  readonly destination: ProxyEndpoint | undefined;
}

export interface ProxyStageOptions {
  readonly mode: ProxyMode;
  readonly allow: readonly AllowEntry[];
  readonly timeoutMs: number;
  /** A line about one refused connection (the server rate-limits these). */
  readonly log: (fields: object, line: string) => void;
  /**
   * A socket closed in this stage, never handed on: why (`proxy_error`, or `shutdown` when the
   * server closed it for a stop), what went wrong, and when it was accepted (Date.now()).
   */
  readonly closed?: (socket: Socket, reason: 'proxy_error' | 'shutdown', why: string, openedAt: number) => void;
  /** Called when the last socket waiting for its header is gone (a drain waits for it). */
  readonly settled?: () => void;
}

/** IPv4-mapped IPv6 (a dual-stack listener's view of an IPv4 client): matched as the IPv4 address. */
function plain(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  if (address.startsWith('::ffff:') && address.includes('.')) return { address: address.slice(7), type: 'ipv4' };
  return { address, type: address.includes(':') ? 'ipv6' : 'ipv4' };
}

/**
 * The accept stage before a Connection: the peer must be an allowed proxy, and must send a
 * PROXY header within the timeout; the socket is then handed on, paused, with whatever
 * came after the header unshifted back onto it (so a later stage, a TLS wrap or the
 * Connection, reads it first). Anything else closes the socket with a log line.
 */
export class ProxyStage {
  /** Sockets still waiting for their header (they count against the backlog), each with the way to shorten its deadline (a drain). */
  readonly waiting = new Map<Socket, (ms: number) => void>();
  /** A stop is coming (accept_grace): a health check (the LOCAL command) is closed unanswered, so the balancer marks this server down while its clients are still served. */
  refuseLocal = false;
  private readonly any: boolean;
  private readonly list = new BlockList();

  constructor(private readonly opts: ProxyStageOptions) {
    this.any = opts.allow.some((e) => e.kind === 'any');
    for (const e of opts.allow) if (e.kind === 'net') this.list.addSubnet(e.address, e.prefix, e.family);
  }

  /** Whether a peer at `address` may speak the PROXY protocol (unix-socket peers are local: allowed). */
  allowed(address: string | undefined): boolean {
    if (this.any || address === undefined) return true;
    const p = plain(address);
    return this.list.check(p.address, p.type);
  }

  /** `next` gets the socket with its header, and when it was accepted (Date.now()). */
  run(socket: Socket, next: (socket: Socket, proxy: ProxyInfo, openedAt: number) => void): void {
    const openedAt = Date.now();
    const address = socket.remoteAddress;
    const port = socket.remotePort;
    const peer = formatPeer(address, port);
    socket.on('error', noop); // a reset while waiting is only a close
    if (!this.allowed(address)) {
      socket.destroy();
      this.opts.log({ peer }, `connection from ${peer}: not in proxy_allow_from; closed`);
      this.opts.closed?.(socket, 'proxy_error', 'not in proxy_allow_from', openedAt);
      return;
    }
    const parser = new ProxyHeaderParser(this.opts.mode);
    const finish = () => {
      clearTimeout(timer);
      if (this.waiting.delete(socket) && this.waiting.size === 0) this.opts.settled?.();
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.removeListener('error', noop);
    };
    const refuse = (why: string, reason: 'proxy_error' | 'shutdown' = 'proxy_error') => {
      finish();
      socket.destroy();
      this.opts.log({ peer }, `connection from ${peer}: ${why}; closed`);
      this.opts.closed?.(socket, reason, why, openedAt);
    };
    const onData = (chunk: Buffer) => {
      const result = parser.feed(chunk);
      if (result.kind === 'more') return;
      if (result.kind === 'error') {
        refuse(result.reason);
        return;
      }
      finish();
      const h = result.header;
      if (h.command === 'local' && this.refuseLocal) {
        socket.destroy();
        this.opts.closed?.(socket, 'shutdown', 'a health check (LOCAL) while the server stops', openedAt);
        return;
      }
      socket.pause(); // the next stage resumes once it listens
      if (result.rest.length > 0) socket.unshift(result.rest);
      next(socket, { address, port, version: h.version, command: h.command, tlvs: h.tlvs, source: h.source, destination: h.destination }, openedAt);
    };
    const onEnd = () => refuse('ended before a complete PROXY header');
    const onClose = () => {
      finish();
      this.opts.closed?.(socket, 'proxy_error', 'closed before a complete PROXY header', openedAt);
    };
    let timer = setTimeout(() => refuse(`no complete PROXY header within ${this.opts.timeoutMs / 1000}s`), this.opts.timeoutMs);
    this.waiting.set(socket, (ms) => {
      clearTimeout(timer);
      timer = setTimeout(() => refuse('no complete PROXY header before the server stopped', 'shutdown'), ms);
    });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
  }

  /**
   * A drain: a socket still waiting for its header was accepted just before it (a balancer
   * sends the header and the request right after connecting). Give it `graceMs` to finish
   * the header, as a fresh connection gets for its first request, then close it.
   */
  drain(graceMs: number): void {
    for (const shorten of this.waiting.values()) shorten(graceMs);
  }
}

function noop(): void {}
