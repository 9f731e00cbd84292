import type { Socket } from 'node:net';
import { ConnectionSet, type App, type Handler } from '@socketserver/core';
import { createApp, FakeSocket } from '@socketserver/testing';
import { REPO } from './ss.js';

export { FakeSocket };

export interface Pipeline {
  app: App;
  server: ConnectionSet;
  /** A new connection on a fake socket. */
  connect(): FakeSocket;
}

/**
 * The app `ss serve` would build from these flags (`plugin`, `handler`, and settings by flag), made
 * by the testing kit, and a server of it without binding: a test drives the connection itself.
 */
export async function pipeline(cli: Record<string, unknown>): Promise<Pipeline> {
  const { plugin, handler, ...settings } = cli;
  const app = await createApp({ plugins: plugin as string[], handler: handler as Handler | string | undefined, settings: { 'log-level': 'error', ...settings }, cwd: REPO });
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
