import type { Connection, Datagram, FailedConnection, Request } from '@socketserver/core';
import { cachedClfTime } from './clf-time.js';
import { jsonFormatter } from './json-line.js';

/** What every line of a process shares. */
export interface LineContext {
  readonly worker: number;
  readonly pid: number;
  readonly server: string;
}

/**
 * What a line is about: a connection, one closed in an accept stage (PROXY, TLS) before it was
 * one, or (request lines only) a datagram's sender on a udp:// bind.
 */
export type LoggedConnection = Connection | FailedConnection | Datagram;

/** A request line's kind: `req` on a connection, `dgram` for a datagram's request. */
export const requestKind = (c: LoggedConnection): string => ('kind' in c && c.kind === 'dgram' ? 'dgram' : 'req');

/**
 * One value of a line: the connection, its peer (read while it was open: a closed socket no longer
 * has its address), the request (request lines only), the duration in ms, and now (Date.now()).
 */
type Token = (c: LoggedConnection, peer: string, r: Request | undefined, ms: number, now: number, ctx: LineContext) => string;

/** A connection-only value on a request line, and a request-only one on a connection line, is `-` (as in gunicorn's log). */
const conn = (f: (c: Connection | FailedConnection) => string): Token => (c, _p, r) => (r === undefined && 'socket' in c ? f(c) : '-');
const req = (f: (r: Request) => string): Token => (_c, _p, r) => (r === undefined ? '-' : f(r));

/** A PROXY header may name a unix path with spaces or control characters: they must not split or forge a line. */
const escape = (s: string): string => s.replace(/[\x00-\x20\x7f"\\]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);

export const TOKENS: Readonly<Record<string, Token | 'time'>> = {
  time: 'time', // per format: its cache of the second's text
  iso: (_c, _p, _r, _ms, now) => new Date(now).toISOString(),
  kind: (c, _p, r) => (r === undefined ? 'conn' : requestKind(c)),
  peer: (c, peer) => (c.proxy === undefined ? peer : escape(peer)),
  conn: (c) => String(c.id),
  worker: (_c, _p, _r, _ms, _now, ctx) => String(ctx.worker),
  pid: (_c, _p, _r, _ms, _now, ctx) => String(ctx.pid),
  server: (_c, _p, _r, _ms, _now, ctx) => ctx.server,
  seq: req((r) => String(r.seq)),
  requests: conn((c) => String(c.requests)),
  bytes_in: conn((c) => String(c.socket.bytesRead)),
  bytes_out: conn((c) => String(c.socket.bytesWritten)),
  // A connection's life is timed by Date.now() (whole ms), a handler by performance.now().
  duration: (_c, _p, r, ms) => (r === undefined ? String(Math.round(ms)) : ms.toFixed(3)),
  reason: conn((c) => c.closeReason),
};

/** The format that writes each line as a JSON object (see json-line.ts) rather than text and tokens. */
export const JSON_FORMAT = 'json';

export const DEFAULT_FORMAT = '{time} {peer} {worker} {conn} {seq} {requests} {bytes_in} {bytes_out} {duration} {reason}';

const TOKEN = /\{([a-z_]+)\}/g;

/** The format as literal text and token names, in order; throws naming the first unknown token. */
export function parseFormat(format: string): (string | { token: string })[] {
  if (/[\r\n]/.test(format)) throw new Error('one line of text and {tokens}; it has a line break');
  const parts: (string | { token: string })[] = [];
  let at = 0;
  for (const m of format.matchAll(TOKEN)) {
    const name = m[1]!;
    if (!Object.hasOwn(TOKENS, name)) {
      throw new Error(`text and {tokens}: {${name}} is not one; the tokens are ${Object.keys(TOKENS).map((t) => `{${t}}`).join(' ')}`);
    }
    if (m.index > at) parts.push(format.slice(at, m.index));
    parts.push({ token: name });
    at = m.index + m[0].length;
  }
  if (at < format.length) parts.push(format.slice(at));
  return parts;
}

/** A function making one line (with its newline) of a checked format: text and tokens, or `json`. */
export type Formatter = (c: LoggedConnection, peer: string, r: Request | undefined, ms: number, now: number) => string;

export function compileFormat(format: string, ctx: LineContext): Formatter {
  if (format === JSON_FORMAT) return jsonFormatter(ctx);
  const time = cachedClfTime();
  const parts: Token[] = parseFormat(format).map((p) => {
    if (typeof p === 'string') return () => p;
    const t = TOKENS[p.token]!;
    return t === 'time' ? (_c, _p, _r, _ms, now) => time(now) : t;
  });
  return (c, peer, r, ms, now) => {
    let line = '';
    for (let i = 0; i < parts.length; i++) line += parts[i]!(c, peer, r, ms, now, ctx);
    return line + '\n';
  };
}
