// The baseline servers' per-connection code (baseline-server, cluster-baseline): what a
// competent hand-written node:net server for these protocols does, with the same limits
// as ss's defaults and the same per-message shape (decode, call a handler, encode, one
// write per read).
import { createServer, type Server, type Socket } from 'node:net';

export type BaselineProto = 'echo' | 'line' | 'netstring';
export const BASELINE_PROTOS: readonly string[] = ['echo', 'line', 'netstring'];

/** Same listen backlog as ss's default, so bursts of connects are treated alike. */
export const BACKLOG = 2048;

const MAX_LINE = 64 * 1024; // ss default --max-line 64kb
const MAX_NETSTRING = 1024 * 1024; // ss default --max-netstring 1mb
const NL = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const COMMA = 0x2c;

const handler = (payload: Buffer): Buffer => payload;

/** Write once; a client that does not read pauses our reading until it drains. */
function send(sock: Socket, data: Buffer): void {
  if (!sock.write(data)) {
    sock.pause();
    sock.once('drain', () => sock.resume());
  }
}

/** All replies of one read, encoded into one Buffer (one write per read). */
function encodeAll(replies: Buffer[], encode: (out: Buffer, at: number, r: Buffer) => number, size: (r: Buffer) => number): Buffer {
  let total = 0;
  for (const r of replies) total += size(r);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const r of replies) at = encode(out, at, r);
  return out;
}

const lineSize = (r: Buffer) => r.length + 1;
function lineEncode(out: Buffer, at: number, r: Buffer): number {
  out.set(r, at);
  out[at + r.length] = NL;
  return at + r.length + 1;
}

const nsSize = (r: Buffer) => String(r.length).length + r.length + 2;
function nsEncode(out: Buffer, at: number, r: Buffer): number {
  at += out.write(`${r.length}:`, at, 'latin1');
  out.set(r, at);
  out[at + r.length] = COMMA;
  return at + r.length + 1;
}

function serveEcho(sock: Socket): void {
  sock.on('data', (chunk: Buffer) => send(sock, chunk));
}

function serveLine(sock: Socket): void {
  // An incomplete line: its chunks, joined once the newline arrives.
  let held: Buffer[] = [];
  let heldBytes = 0;
  sock.on('data', (chunk: Buffer) => {
    const replies: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, pos);
      if (nl === -1) break;
      let line = chunk.subarray(pos, nl);
      if (heldBytes > 0) {
        held.push(line);
        line = Buffer.concat(held, heldBytes + line.length);
        held = [];
        heldBytes = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > MAX_LINE) return void sock.destroy();
      replies.push(handler(line));
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      held.push(chunk.subarray(pos));
      heldBytes += chunk.length - pos;
      if (heldBytes > MAX_LINE + 1) return void sock.destroy(); // +1: room for a '\r'
    }
    if (replies.length > 0) send(sock, encodeAll(replies, lineEncode, lineSize));
  });
}

function serveNetstring(sock: Socket): void {
  // An incomplete frame: its chunks, and the frame size once the header is known.
  let held: Buffer[] = [];
  let heldBytes = 0;
  let frame = 0;
  sock.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (heldBytes > 0) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (frame !== 0 && heldBytes < frame) return; // still waiting for the payload
      data = Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
    }
    const replies: Buffer[] = [];
    let pos = 0;
    frame = 0;
    while (pos < data.length) {
      // Header: digits then ':'.
      let len = 0;
      let i = pos;
      for (; i < data.length; i++) {
        const c = data[i]!;
        if (c === COLON) break;
        if (c < 0x30 || c > 0x39 || (i === pos + 1 && data[pos] === 0x30)) return void sock.destroy();
        len = len * 10 + (c - 0x30);
        if (len > MAX_NETSTRING) return void sock.destroy();
      }
      if (i === data.length) break; // header incomplete
      if (i === pos) return void sock.destroy();
      const end = i + 1 + len + 1;
      if (end > data.length) {
        frame = end - pos;
        break;
      }
      if (data[end - 1] !== COMMA) return void sock.destroy();
      replies.push(handler(data.subarray(i + 1, end - 1)));
      pos = end;
    }
    if (pos < data.length) {
      held.push(data.subarray(pos));
      heldBytes = data.length - pos;
    }
    if (replies.length > 0) send(sock, encodeAll(replies, nsEncode, nsSize));
  });
}

/** TLS for the baseline: the caller imports node:tls only when it serves TLS, so the plain
 *  baseline's memory is a bare net server's (node:tls adds several MiB of RSS). */
export interface BaselineTls { cert: Buffer; key: Buffer; tls: typeof import('node:tls') }

/** A server (not yet listening) that serves `proto` on every connection. */
export function baselineServer(proto: BaselineProto, tls?: BaselineTls): Server {
  const serveConn = proto === 'echo' ? serveEcho : proto === 'line' ? serveLine : serveNetstring;
  const onConnection = (sock: Socket) => {
    sock.on('error', () => {}); // resets from clients going away are not our problem
    serveConn(sock);
  };
  // TLS: node:tls's own server, same per-connection code on the TLSSocket, TLS 1.2 at least as ss's default.
  if (tls) return tls.tls.createServer({ cert: tls.cert, key: tls.key, noDelay: true, minVersion: 'TLSv1.2' }, onConnection);
  return createServer({ noDelay: true }, onConnection);
}
