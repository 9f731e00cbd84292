import { createServer } from 'node:net';

/** A loopback port nobody listens on right now (bound to 0, then closed): for what cannot be given port 0 and tell which it got. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
