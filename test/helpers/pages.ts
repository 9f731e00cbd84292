import type { ExecutionContext } from 'ava';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';

/** What the server answers for a path: an HTML page's text. */
export type Pages = Record<string, string>;

/**
 * A loopback HTTP server (HTTPS given a key and certificate) of one test, serving `pages` by path
 * (anything else is a 404): the origin a browser test's page comes from. Closed at teardown.
 * Resolves with its base URL, `http://127.0.0.1:PORT`.
 */
export async function servePages(t: Pick<ExecutionContext, 'teardown'>, pages: Pages, tls?: { key: Buffer; cert: Buffer }): Promise<string> {
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const page = pages[new URL(req.url ?? '/', 'http://x').pathname];
    if (page === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
  };
  const server: Server = tls ? createHttps(tls, answer) : createHttp(answer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as { port: number };
  return `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
}
