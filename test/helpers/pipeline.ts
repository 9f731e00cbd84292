import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { App, ConnectionSet, discover, resolveSettings } from '@socketserver/core';
import { REPO } from './ss.js';

/**
 * Stands in for a net.Socket: what the server writes is collected, and a test feeds
 * reads with `receive`. Lets a test drive the real pipeline (cumulator, protocol,
 * handler, ordering, batching) without the network.
 */
export class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  writes = 0;
  paused = false;
  destroyed = false;
  writableEnded = false;
  /** What write() returns: false simulates a client that is not reading. */
  writable = true;
  /** Bytes written but not yet taken by the peer: none, the fake peer takes everything at once. */
  writableLength = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;

  write(data: string | Uint8Array): boolean {
    this.writes++;
    // Kept as given, like a real socket's write: no copy.
    this.written.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
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
  receive(chunk: Buffer | string): void {
    this.emit('data', typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  /** Everything written so far, as one buffer. */
  output(): Buffer {
    return Buffer.concat(this.written);
  }
}

export interface Pipeline {
  app: App;
  server: ConnectionSet;
  /** A new connection on a fake socket. */
  connect(): FakeSocket;
}

/** Build the app exactly as `ss serve ARGS` would (same discovery and settings), without binding. */
export async function pipeline(cli: Record<string, unknown>): Promise<Pipeline> {
  const opts = { 'log-level': 'error', ...cli };
  const discovery = await discover({ cwd: REPO, env: {}, cli: opts, builtinDirs: [`${REPO}cli`] });
  const app = await App.create(discovery, resolveSettings(discovery, opts));
  const server = new ConnectionSet(app);
  server.start();
  return {
    app,
    server,
    connect() {
      const socket = new FakeSocket();
      server.accept(socket as unknown as Socket);
      return socket;
    },
  };
}

/**
 * Turns of the event loop until `count()` stops changing: a read's dispatch gives the loop back
 * after a few ms of handler time and goes on at the next turn (slow here, unoptimised code).
 */
export async function dispatched(count: () => number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 10_000 && count() !== last; i++) {
    last = count();
    await new Promise((r) => setImmediate(r));
  }
}
