import { createHash } from 'node:crypto';
import { ProtocolError } from '@socketserver/core';

/** RFC 6455 §1.3: appended to the client's key before hashing it. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The end of an HTTP head. */
export const HEAD_END = Buffer.from('\r\n\r\n');

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d)\.(\d)$/;
const STATUS_LINE = /^HTTP\/1\.\d (\d{3})(?: (.*))?$/;
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
/** 16 bytes in base64 (§4.1): 22 characters, then `==`. */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large',
};

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (§4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/**
 * A refused handshake: a plain HTTP error (`status`, `why` as its body, `extra` headers) is
 * written and the connection closed, with a log line (bad input).
 */
export function refuse(status: number, why: string, extra = ''): ProtocolError {
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = `${why}\n`;
  const reply = `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
  return new ProtocolError(`websocket: handshake refused with ${status} ${text}: ${why}`, { reply });
}

/** An HTTP head: its first line and its headers (names in lower case; repeated ones joined with `, `). */
export interface Head {
  readonly line: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** Split `text` (an HTTP head without its blank line, read as latin1) into its first line and headers; undefined if malformed. */
export function parseHead(text: string): Head | undefined {
  const lines = text.split('\r\n');
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const m = HEADER.exec(lines[i]!);
    // A bare CR or LF inside a line (which a lenient parser would split on) is refused with the rest.
    if (m === null || /[\r\n\0]/.test(m[2]!)) return undefined;
    const name = m[1]!.toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? m[2]! : `${before}, ${m[2]!}`);
  }
  return { line: lines[0]!, headers };
}

/** The comma-separated tokens of a header, trimmed (empty ones dropped, as RFC 9110 §5.6.1 allows). */
export function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

/** Whether a token list header holds `token`, compared case-insensitively (`Connection: keep-alive, Upgrade`). */
function hasToken(value: string | undefined, token: string): boolean {
  return tokens(value).some((t) => t.toLowerCase() === token);
}

/** What the server accepts: its path, subprotocols and origins (empty: any origin). */
export interface UpgradeOptions {
  readonly path: string;
  readonly protocols: readonly string[];
  /** Lower case, as `scheme://host[:port]`. */
  readonly origins: readonly string[];
}

/** What a client's opening handshake said, kept for handlers: `handshake(request.connection)`. */
export class Handshake {
  constructor(
    /** The path it asked for (`/chat`). */
    readonly path: string,
    /** The query string's parameters (`?room=lobby&token=…`). */
    readonly query: URLSearchParams,
    /** Its headers, names in lower case, repeated ones joined with `, ` (values read as latin1). */
    readonly headers: ReadonlyMap<string, string>,
    /** The subprotocol the server chose (and sent back), if any. */
    readonly protocol: string | undefined,
  ) {}

  /** The origin of the page that opened the connection (a browser always sends it). */
  get origin(): string | undefined {
    return this.headers.get('origin');
  }
}

/**
 * Check a client's opening handshake (§4.2.1) and give the server's answer (§4.2.2): the
 * `101 Switching Protocols` response, and what the handshake said. Throws `refuse(...)` for
 * anything else.
 */
export function answerUpgrade(text: string, options: UpgradeOptions): { answer: string; handshake: Handshake } {
  const head = parseHead(text);
  if (head === undefined) throw refuse(400, 'malformed header line');
  const request = REQUEST_LINE.exec(head.line);
  if (request === null) throw refuse(400, 'malformed request line');
  const [, method, target, major, minor] = request as unknown as [string, string, string, string, string];
  if (major !== '1' || minor === '0') throw refuse(400, `HTTP/${major}.${minor}: a WebSocket handshake is HTTP/1.1`);
  if (method !== 'GET') throw refuse(405, `method ${method}: a WebSocket handshake is a GET`, 'Allow: GET\r\n');
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (path !== options.path) throw refuse(404, `no WebSocket at ${path.slice(0, 200)} (--ws-path is ${options.path})`);
  const h = head.headers;
  if (!h.has('host')) throw refuse(400, 'no Host header');
  if (!hasToken(h.get('upgrade'), 'websocket')) throw refuse(400, 'not a WebSocket upgrade: no "Upgrade: websocket" header');
  if (!hasToken(h.get('connection'), 'upgrade')) throw refuse(400, 'not a WebSocket upgrade: no "Connection: Upgrade" header');
  const version = h.get('sec-websocket-version');
  if (version !== '13') {
    throw refuse(426, version === undefined ? 'no Sec-WebSocket-Version header' : `Sec-WebSocket-Version ${version.slice(0, 40)}: only 13 is spoken`,
      'Sec-WebSocket-Version: 13\r\n');
  }
  const key = h.get('sec-websocket-key');
  if (key === undefined || !KEY.test(key)) throw refuse(400, key === undefined ? 'no Sec-WebSocket-Key header' : 'Sec-WebSocket-Key is not 16 bytes in base64');
  const origin = h.get('origin');
  // Browsers always send Origin; a client without one is not a page another site could have opened.
  if (options.origins.length > 0 && origin !== undefined && !options.origins.includes(origin.toLowerCase())) {
    throw refuse(403, `origin ${origin.slice(0, 200)} is not in --ws-origins`);
  }
  const offered = tokens(h.get('sec-websocket-protocol'));
  if (offered.some((p) => !TOKEN.test(p))) throw refuse(400, 'malformed Sec-WebSocket-Protocol header');
  // The first the client offers that the server speaks; none in common: no header (§4.2.2), and the client decides.
  const chosen = offered.find((p) => options.protocols.includes(p));
  const answer = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${chosen === undefined ? '' : `Sec-WebSocket-Protocol: ${chosen}\r\n`}\r\n`;
  return { answer, handshake: new Handshake(path, new URLSearchParams(query === -1 ? '' : target.slice(query + 1)), h, chosen) };
}

/** A client's opening handshake (§4.1) for `host`, `path`, with `key`, offering `protocols`. */
export function upgradeRequest(host: string, path: string, key: string, protocols: readonly string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    `${protocols.length > 0 ? `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n` : ''}\r\n`;
}

/**
 * Check the server's answer to our handshake (§4.1, the client's checks); return the
 * subprotocol it chose, if any. Throws a ProtocolError saying what is wrong.
 */
export function checkAnswer(text: string, key: string, offered: readonly string[]): string | undefined {
  const head = parseHead(text);
  const status = head === undefined ? null : STATUS_LINE.exec(head.line);
  if (head === undefined || status === null) throw new ProtocolError('websocket: the server did not answer with HTTP');
  if (status[1] !== '101') throw new ProtocolError(`websocket: the server answered ${status[1]} ${status[2] ?? ''}`.trimEnd());
  const h = head.headers;
  if (!hasToken(h.get('upgrade'), 'websocket') || !hasToken(h.get('connection'), 'upgrade')) {
    throw new ProtocolError('websocket: the server\'s 101 has no "Upgrade: websocket" and "Connection: Upgrade"');
  }
  if (h.get('sec-websocket-accept') !== acceptKey(key)) throw new ProtocolError('websocket: the server\'s Sec-WebSocket-Accept does not match our key');
  const chosen = h.get('sec-websocket-protocol');
  if (chosen !== undefined && !offered.includes(chosen)) throw new ProtocolError(`websocket: the server chose subprotocol ${chosen}, which we did not offer`);
  if (chosen === undefined && offered.length > 0) throw new ProtocolError(`websocket: the server speaks none of the subprotocols offered (${offered.join(', ')})`);
  return chosen;
}
