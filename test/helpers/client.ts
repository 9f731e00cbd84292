import { connect, type Socket } from 'node:net';

export type Target = number | string | { host: string; port: number };

/**
 * A test client over loopback or a unix socket: collects what the server sends and
 * lets a test wait, with a time limit, for a number of bytes, a predicate, or the close.
 */
export class Client {
  received = Buffer.alloc(0);
  closed = false;
  error: Error | undefined;
  /** Our port (kept: a closed socket no longer has one). */
  readonly localPort: number | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    this.localPort = socket.localPort;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('error', (err) => { this.error = err; });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(target: Target): Promise<Client> {
    const options = typeof target === 'number' ? { host: '127.0.0.1', port: target }
      : typeof target === 'string' ? { path: target } : target;
    return new Promise((resolve, reject) => {
      const socket = connect(options, () => {
        socket.off('error', reject);
        resolve(new Client(socket));
      });
      socket.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Uint8Array): this {
    this.socket.write(data);
    return this;
  }

  /** Resolve when `pred()` holds; reject after `timeoutMs` with `what` in the message. */
  until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}; received ${JSON.stringify(this.received.toString('latin1').slice(0, 200))}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed && what !== 'close') {
          clearTimeout(timer);
          reject(new Error(`connection closed while waiting for ${what}; received ${JSON.stringify(this.received.toString('latin1').slice(0, 200))}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Take exactly `n` bytes off the front of what was received. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.received.length >= n, `${n} bytes`, timeoutMs);
    const out = this.received.subarray(0, n);
    this.received = this.received.subarray(n);
    return out;
  }

  /** The next `count` lines, without their `\n`. */
  async lines(count: number, timeoutMs = 5000): Promise<string[]> {
    const countNl = () => this.received.toString('latin1').split('\n').length - 1;
    await this.until(() => countNl() >= count, `${count} lines`, timeoutMs);
    const text = this.received.toString('utf8');
    const parts = text.split('\n');
    const taken = parts.slice(0, count);
    this.received = Buffer.from(parts.slice(count).join('\n'), 'utf8');
    return taken;
  }

  /** Resolve once the server has closed the connection. */
  waitClose(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.closed, 'close', timeoutMs);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection: connect, send `line`, read one reply line, close. Rejects on any failure. */
export async function ask(target: Target, line: string, timeoutMs = 5000): Promise<string> {
  const c = await Client.open(target);
  try {
    c.send(`${line}\n`);
    const [reply] = await c.lines(1, timeoutMs);
    return reply!;
  } finally {
    c.destroy();
  }
}
