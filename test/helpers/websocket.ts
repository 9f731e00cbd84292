import { createHash, randomBytes } from 'node:crypto';
import WebSocket, { type ClientOptions } from 'ws';
import { Client } from './client.js';

// WebSocket by hand (RFC 6455), for what a stock client never sends: the handshake over a raw
// socket, then frames crafted byte by byte, and the server's frames read back.

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface FrameOptions {
  /** Default true. */
  readonly fin?: boolean;
  /** Default true (a client's frames are masked); false sends it bare. */
  readonly mask?: boolean;
  /** The three reserved bits, as a number 0-7 (RSV1 = 4). */
  readonly rsv?: number;
  /** The length the header claims, when it should not be the payload's. */
  readonly length?: number;
}

/** One frame as a client would send it. */
export function frame(opcode: number, payload: string | Uint8Array = Buffer.alloc(0), o: FrameOptions = {}): Buffer {
  const body = Buffer.from(payload);
  const length = o.length ?? body.length;
  const masked = o.mask ?? true;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = masked ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 0x10000) head.push(m | 126, length >> 8, length & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  if (!masked) return Buffer.concat([Buffer.from(head), body]);
  const mask = randomBytes(4);
  const out = Buffer.from(body);
  for (let i = 0; i < out.length; i++) out[i]! ^= mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), mask, out]);
}

/** A close frame's payload: the code and a reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface ServerFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** The next frame the server sent (unmasked, as a server's are). */
export async function readFrame(c: Client, timeoutMs = 5000): Promise<ServerFrame> {
  await c.until(() => c.received.length >= 2, 'a frame header', timeoutMs);
  const b1 = c.received[1]! & 0x7f;
  const extra = b1 === 126 ? 2 : b1 === 127 ? 8 : 0;
  await c.until(() => c.received.length >= 2 + extra, 'a frame length', timeoutMs);
  const length = b1 === 126 ? c.received.readUInt16BE(2) : b1 === 127 ? Number(c.received.readBigUInt64BE(2)) : b1;
  const whole = await c.read(2 + extra + length, timeoutMs);
  if ((whole[1]! & 0x80) !== 0) throw new Error('the server masked a frame');
  return { fin: (whole[0]! & 0x80) !== 0, opcode: whole[0]! & 0x0f, payload: whole.subarray(2 + extra) };
}

/** The code of a close frame (undefined: none in it). */
export function closeCode(f: ServerFrame): number | undefined {
  if (f.opcode !== OP.close) throw new Error(`not a close frame: opcode ${f.opcode}`);
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
}

export interface Answer {
  readonly client: Client;
  /** `HTTP/1.1 101 Switching Protocols`, or the error's status line. */
  readonly status: string;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
  /** What came after the head (an error's body). */
  readonly body: string;
}

/** A valid opening handshake's headers (the request line apart), with a fresh key. */
export function upgradeHeaders(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const headers: Record<string, string | undefined> = {
    Host: '127.0.0.1', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13', ...extra,
  };
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The request text for `headers` (`undefined` drops one of the defaults). */
export function upgradeRequest(requestLine = 'GET / HTTP/1.1', extra: Record<string, string | undefined> = {}): string {
  return `${requestLine}\r\n${Object.entries(upgradeHeaders(extra)).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Send `request` on a fresh connection and read the answer's head (and, for an error, its body up to the close). */
export async function handshake(port: number, request = upgradeRequest(), after?: Buffer): Promise<Answer> {
  const client = await Client.open(port);
  client.send(after === undefined ? request : Buffer.concat([Buffer.from(request), after]));
  await client.until(() => client.received.includes('\r\n\r\n'), 'the answer to the handshake', 10_000);
  const end = client.received.indexOf('\r\n\r\n');
  const [status, ...lines] = client.received.subarray(0, end).toString('latin1').split('\r\n');
  client.received = client.received.subarray(end + 4);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = '';
  if (!status!.includes(' 101 ')) {
    await client.until(() => client.closed, 'close', 10_000);
    body = client.received.toString();
  }
  return { client, status: status!, headers, body };
}

/** The accept a server must answer `key` with. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** A `ws` client, open (rejects with the error that kept it from opening). */
export function openWs(url: string, protocols?: string | string[], options?: ClientOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${url}: not open after 10 s`)); }, 10_000);
    ws.once('open', () => { clearTimeout(timer); resolve(ws); });
    // Stays: an error after the open (a close the server forced) is only its close then.
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** The next message a `ws` client gets: its data and whether it was binary. */
export function nextMessage(ws: WebSocket, timeoutMs = 10_000): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', on); reject(new Error('no message within the time')); }, timeoutMs);
    const on = (data: WebSocket.RawData, binary: boolean) => {
      clearTimeout(timer);
      resolve({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), binary });
    };
    ws.once('message', on);
  });
}

/** Send `data` and take the next message. */
export async function ask(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  const reply = nextMessage(ws);
  ws.send(data);
  return reply;
}

/** Resolves with the close code and reason once the `ws` client is closed. */
export function closed(ws: WebSocket, timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) reject(new Error('already closed'));
    const timer = setTimeout(() => reject(new Error('not closed within the time')), timeoutMs);
    ws.once('close', (code, reason) => { clearTimeout(timer); resolve({ code, reason: reason.toString() }); });
  });
}
