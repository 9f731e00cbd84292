import { requestKind, type Formatter, type LineContext } from './format.js';

/** A string of only printable ASCII but `"` and `\`: it needs no escape. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/**
 * What JSON.stringify leaves raw but a terminal acts on or a reader takes for a line break (C1
 * controls, DEL, line and paragraph separators, bidi overrides): written as \uXXXX, still JSON.
 */
const UNSAFE = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `s` as a JSON string: a peer may be a unix path a PROXY header named, holding anything. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s).replace(UNSAFE, escapeChar);
}

/**
 * Access lines as JSON objects, one a line, with the tokens' fields in their order: `time` (ISO
 * 8601, UTC), `kind`, `peer`, `conn`, `worker`, `pid`, `server`, `seq`, `requests`, `bytes_in`,
 * `bytes_out`, `duration` (ms, a number) and `reason`; a field that does not apply to the line's
 * kind (`-` in a text format) is null. Written by hand: the values are known numbers and strings.
 */
export function jsonFormatter(ctx: LineContext): Formatter {
  const shared = `,"worker":${ctx.worker},"pid":${ctx.pid},"server":${jsonString(ctx.server)}`;
  return (c, peer, r, ms, now) => {
    const head = `{"time":"${new Date(now).toISOString()}","kind":"${r === undefined ? 'conn' : requestKind(c)}","peer":${jsonString(peer)},"conn":${c.id}${shared}`;
    // As the text tokens: a connection's life in whole ms (Date.now()), a handler's to the µs (performance.now()).
    if (r !== undefined) return `${head},"seq":${r.seq},"requests":null,"bytes_in":null,"bytes_out":null,"duration":${ms.toFixed(3)},"reason":null}\n`;
    if (!('socket' in c)) return ''; // a datagram has request lines only
    return `${head},"seq":null,"requests":${c.requests},"bytes_in":${c.socket.bytesRead},"bytes_out":${c.socket.bytesWritten},"duration":${Math.round(ms)},"reason":${jsonString(c.closeReason)}}\n`;
  };
}
