import { EventEmitter } from 'node:events';

/**
 * Stands in for a net.Socket: what the server writes is collected, and a test feeds
 * reads with `receive`. Lets a test drive the real pipeline (cumulator, protocol,
 * handler, ordering, batching) without the network.
 */
export class FakeSocket extends EventEmitter {
  /** Each write, as given. */
  readonly written: Buffer[] = [];
  writes = 0;
  paused = false;
  destroyed = false;
  writableEnded = false;
  /** What write() returns: false simulates a client that is not reading. */
  writable = true;
  /** Bytes written but not yet taken by the peer: none, the fake peer takes everything at once. */
  writableLength = 0;
  bytesRead = 0;
  bytesWritten = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;

  write(data: string | Uint8Array): boolean {
    this.writes++;
    // Kept as given, like a real socket's write: no copy.
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.written.push(bytes);
    this.bytesWritten += bytes.length;
    return this.writable;
  }
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  end(): this {
    this.writableEnded = true;
    this.emit('finish');
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      queueMicrotask(() => this.emit('close'));
    }
    return this;
  }
  /** One read from the client. */
  receive(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.bytesRead += bytes.length;
    this.emit('data', bytes);
  }
  /** Everything written so far, as one buffer. */
  output(): Buffer {
    return Buffer.concat(this.written);
  }
}
