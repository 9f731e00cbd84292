import { definePlugin, type PluginCfg } from '@socketserver/core';
import { WebSocketProtocol, type ServerOptions } from './server.js';
import { WebSocketClientProtocol, type ClientOptions } from './client.js';
import { Handshake } from './http.js';

export { WebSocketProtocol, WebSocketClientProtocol, Handshake };

/**
 * What the client's opening handshake said (path, query, headers, the subprotocol chosen), for
 * a handler or a hook: `handshake(request.connection)`; undefined for a connection of another
 * protocol (a config's other server).
 */
export function handshake(connection: { readonly protocolInfo: object | undefined }): Handshake | undefined {
  return connection.protocolInfo instanceof Handshake ? connection.protocolInfo : undefined;
}
export type { Message, Reply } from './frame.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/i;

/** A comma-separated list of what `check` accepts (a repeatable setting may also be given once with commas). */
function list(what: string, check: (item: string) => boolean): (value: string) => string[] {
  return (value) => {
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const item of items) if (!check(item)) throw new Error(`${what}, got "${item}"`);
    return items;
  };
}

const settings = {
  wsPath: {
    flags: ['--ws-path'], type: 'string', default: '/', meta: 'PATH', section: 'websocket',
    validate: (path: string): string => {
      if (!/^\/[^\s?#]*$/.test(path)) throw new Error('a path beginning with /, without spaces, ? or #');
      return path;
    },
    desc: 'The path WebSocket clients connect to (`/chat`: `ws://HOST:PORT/chat`); a handshake for another path is answered 404 Not Found and closed. A query string is allowed and ignored.',
  },
  wsProtocols: {
    flags: ['--ws-protocols'], type: 'string', repeatable: true, meta: 'NAME', section: 'websocket',
    validate: list('a subprotocol name (an HTTP token)', (p) => TOKEN.test(p)),
    desc: 'Subprotocols the server speaks, comma-separated or repeatable: the first one the client offers (Sec-WebSocket-Protocol) that is listed here is chosen and sent back. With none in common the answer names none, as RFC 6455 says, and a client that required one closes (browsers do). A client (ss send, createClient) offers these.',
  },
  wsOrigins: {
    flags: ['--ws-origins'], type: 'string', repeatable: true, meta: 'ORIGIN', section: 'websocket',
    validate: list('an origin such as https://example.com or http://localhost:8080', (o) => ORIGIN.test(o)),
    desc: 'Origins whose pages may connect, comma-separated or repeatable (`https://example.com`, compared without case); a handshake from another origin is answered 403 Forbidden and closed. Empty: any origin. A client that sends no Origin (not a browser) is not checked.',
  },
  wsMaxMessage: {
    flags: ['--ws-max-message'], type: 'bytes', min: 1, default: '1mb', section: 'websocket',
    desc: 'Largest message accepted, all its fragments together; a frame that would take a message over it closes the connection with 1009 as soon as its header is in.',
  },
  wsMaxHeader: {
    flags: ['--ws-max-header'], type: 'bytes', min: 256, default: '8kb', section: 'websocket',
    desc: 'Largest opening handshake (the HTTP request line and headers); a longer one is answered 431 and closed.',
  },
  wsHandshakeTimeout: {
    flags: ['--ws-handshake-timeout'], type: 'seconds', min: 0.1, default: 10, section: 'websocket',
    desc: 'Seconds a new connection has to send its whole opening handshake; a slower one is answered 408 and closed, with a log line.',
  },
  wsPingInterval: {
    flags: ['--ws-ping-interval'], type: 'seconds', min: 0, default: 10, section: 'websocket',
    desc: 'A connection silent (nothing read or written) for this long is sent a ping, and again each interval while it stays silent; 0 = no pings. The pong is activity, so keep it under keep_alive: a client that answers is never idle, one that does not is closed by keep_alive, even while it subscribes to channels.',
  },
} as const;

type Cfg = PluginCfg<typeof settings>;

// The options every connection of a server shares, worked out once from its settings.
const serverOptions = new WeakMap<object, ServerOptions>();
const clientOptions = new WeakMap<object, ClientOptions>();

function forServer(cfg: Cfg): ServerOptions {
  let o = serverOptions.get(cfg);
  if (o === undefined) {
    serverOptions.set(cfg, o = {
      path: cfg.wsPath, protocols: cfg.wsProtocols.flat(), origins: cfg.wsOrigins.flat().map((s) => s.toLowerCase()),
      maxMessage: cfg.wsMaxMessage, maxHeader: cfg.wsMaxHeader,
      handshakeMs: cfg.wsHandshakeTimeout * 1000, pingMs: cfg.wsPingInterval * 1000,
    });
  }
  return o;
}

function forClient(cfg: Cfg): ClientOptions {
  let o = clientOptions.get(cfg);
  if (o === undefined) {
    clientOptions.set(cfg, o = { path: cfg.wsPath, protocols: cfg.wsProtocols.flat(), maxMessage: cfg.wsMaxMessage, maxHeader: cfg.wsMaxHeader });
  }
  return o;
}

export default definePlugin({
  name: 'websocket',
  settings,
  protocol: (cfg) => new WebSocketProtocol(forServer(cfg)),
  client: (cfg) => new WebSocketClientProtocol(forClient(cfg)),
});
