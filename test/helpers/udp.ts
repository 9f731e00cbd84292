import type { ExecutionContext } from 'ava';
import { createSocket, type Socket } from 'node:dgram';
import type { SsProcess } from './ss.js';

/** The port of the server's first udp:// bind, from its "listening on" line. */
export function udpPort(ss: SsProcess): number {
  const addr = ss.addresses.find((a) => a.startsWith('udp://'));
  if (!addr) throw new Error('no udp:// address bound');
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

/** A loopback datagram client: what it sent, what came back, in order. Closed at the test's teardown. */
export class UdpClient {
  readonly received: Buffer[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket, private readonly port: number, private readonly host: string) {
    socket.on('message', (m) => {
      this.received.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(t: Pick<ExecutionContext, 'teardown'>, port: number, host = '127.0.0.1'): Promise<UdpClient> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    t.teardown(() => { try { socket.close(); } catch { /* closed */ } });
    return new UdpClient(socket, port, host);
  }

  /** This client's own `host:port`, as the server names it. */
  get peer(): string {
    const a = this.socket.address();
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  send(data: string | Buffer): void {
    this.socket.send(data, this.port, this.host);
  }

  /** Wait until `n` datagrams in all have come (rejects after `timeoutMs`); returns them as text. */
  async until(n: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.received.length} of ${n} datagrams within ${timeoutMs}ms: ${JSON.stringify(this.received.map(String))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.received.map(String);
  }
}
