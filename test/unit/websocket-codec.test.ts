import test from 'ava';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { Cumulator, decodeMessages, ProtocolError, type ProtocolLink } from '@socketserver/core';
import { WebSocketClientProtocol, WebSocketProtocol, type Message } from '@socketserver/plugin-websocket';
import { OP, acceptFor, closePayload, frame, upgradeRequest } from '../helpers/websocket.js';

// The frame codec on its own, fed as the framework feeds it (a Cumulator, `expected`, the cursor).

const OPTIONS = {
  path: '/', protocols: [], origins: [], maxMessage: 1 << 20, maxHeader: 8192, handshakeMs: 10_000, pingMs: 0,
};

/** A link that records what the protocol writes and whether it ended. */
class FakeLink implements ProtocolLink {
  writes: Buffer[] = [];
  ended: Buffer | undefined = undefined;
  lastActive = Date.now();
  peer = '127.0.0.1:1';
  write(bytes: Uint8Array | string): void { this.writes.push(Buffer.from(bytes)); }
  probe(bytes: Uint8Array | string): void { this.write(bytes); }
  end(last?: Uint8Array | string): void { this.ended = Buffer.from(last ?? ''); }
  wake(): void {}
  describe(info: object): void { this.info = info; }
  info: object | undefined = undefined;
}

/** Split `stream` at the given cut points (taken modulo its length). */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) chunks.push(stream.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < stream.length) chunks.push(stream.subarray(from));
  return chunks;
}

/** Feed `chunks` (copies: the decoder unmasks in place) to a fresh server protocol; what it gave and wrote. */
function serve(chunks: Buffer[], options = OPTIONS): { messages: Message[]; link: FakeLink; error: unknown } {
  const protocol = new WebSocketProtocol(options);
  const link = new FakeLink();
  protocol.attach(link);
  const pending = new Cumulator();
  const messages: Message[] = [];
  try {
    for (const chunk of chunks) decodeMessages(protocol, pending, Buffer.from(chunk), (m) => messages.push(m));
  } catch (err) {
    return { messages, link, error: err };
  }
  return { messages, link, error: undefined };
}

/** A message, how its payload is cut into fragments, and the pings sent between them. */
interface Sent {
  readonly text: boolean;
  readonly payload: Buffer;
  readonly cuts: number[];
  readonly pings: Buffer[];
}

/** The frames of `m`: fragments at its cuts, a ping before each fragment after the first. */
function framesOf(m: Sent): Buffer[] {
  const pieces = split(m.payload, m.cuts);
  if (pieces.length === 0) pieces.push(Buffer.alloc(0));
  return pieces.flatMap((piece, i) => {
    const opcode = i === 0 ? (m.text ? OP.text : OP.binary) : OP.continuation;
    const data = frame(opcode, piece, { fin: i === pieces.length - 1 });
    const ping = i > 0 && m.pings.length > 0 ? [frame(OP.ping, m.pings[(i - 1) % m.pings.length]!)] : [];
    return [...ping, data];
  });
}

const size = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 2, arbitrary: fc.integer({ min: 126, max: 2000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 65_530, max: 66_000 }) });
const sent: fc.Arbitrary<Sent> = fc.record({
  text: fc.boolean(),
  n: size,
  seed: fc.string({ unit: 'binary', maxLength: 60 }),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  pings: fc.array(fc.uint8Array({ maxLength: 125 }).map((u) => Buffer.from(u)), { maxLength: 3 }),
}).map(({ text, n, seed, cuts, pings }) => {
  // Text: a string of any characters repeated to about n bytes (cuts then fall inside characters too).
  const payload = text ? Buffer.from(seed.length === 0 ? '' : seed.repeat(Math.ceil(n / Math.max(1, Buffer.byteLength(seed)))))
    : Buffer.alloc(n, n & 0xff);
  return { text, payload, cuts, pings };
});

test('any split of a valid frame sequence (fragments, pings between them, sizes of each length form) decodes the same', (t) => {
  fc.assert(fc.property(fc.array(sent, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
    const stream = Buffer.concat([Buffer.from(upgradeRequest()), ...messages.flatMap(framesOf)]);
    const { messages: got, link, error } = serve(split(stream, cuts));
    if (error !== undefined) throw error;
    if (got.length !== messages.length) return false;
    for (let i = 0; i < got.length; i++) {
      const m = messages[i]!;
      const g = got[i]!;
      if (m.text ? g !== m.payload.toString() : !(Buffer.isBuffer(g) && g.equals(m.payload))) return false;
    }
    // The 101, then a pong per ping, each with its ping's payload, unmasked.
    const pings = messages.flatMap((m) => framesOf(m).filter((f) => (f[0]! & 0x0f) === OP.ping).map((f) => pingPayload(f)));
    const pongs = link.writes.slice(1);
    return link.writes[0]!.toString().startsWith('HTTP/1.1 101 ') && pongs.length === pings.length &&
      pongs.every((p, i) => p[0] === (0x80 | OP.pong) && p[1] === pings[i]!.length && p.subarray(2).equals(pings[i]!));
  }), { numRuns: 150 });
  t.pass();
});

/** A masked ping's payload, unmasked. */
function pingPayload(f: Buffer): Buffer {
  const n = f[1]! & 0x7f;
  const mask = f.subarray(2, 6);
  return Buffer.from(f.subarray(6, 6 + n).map((b, i) => b ^ mask[i & 3]!));
}

const utf8ish = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
  // Valid text with one byte changed: the errors that matter sit next to valid sequences.
  fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.nat(), fc.integer({ min: 0x80, max: 0xff })).map(([s, at, b]) => {
    const buf = Buffer.from(s);
    buf[at % buf.length] = b;
    return buf;
  }),
);

test('a text message in fragments is refused with 1007 exactly when the whole is not UTF-8, wherever the fragments cut it', (t) => {
  fc.assert(fc.property(fc.array(utf8ish, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (parts, cuts) => {
    const whole = Buffer.concat(parts);
    const pieces = split(whole, cuts);
    if (pieces.length === 0) pieces.push(Buffer.alloc(0));
    const frames = pieces.map((p, i) => frame(i === 0 ? OP.text : OP.continuation, p, { fin: i === pieces.length - 1 }));
    const { messages, error } = serve([Buffer.from(upgradeRequest()), ...frames]);
    if (isUtf8(whole)) return error === undefined && messages.length === 1 && messages[0] === whole.toString();
    return error instanceof ProtocolError && /invalid UTF-8.*\(close 1007\)/.test(error.message) &&
      (error.reply as Buffer).readUInt16BE(2) === 1007 && messages.length === 0;
  }), { numRuns: 500 });
  t.pass();
});

test('a close frame is echoed with its code and ends the link; what follows is ignored', (t) => {
  const { messages, link, error } = serve([Buffer.from(upgradeRequest()), frame(OP.close, closePayload(4001, 'bye')), frame(OP.text, 'late')]);
  t.is(error, undefined);
  t.deepEqual(messages, []);
  t.deepEqual(link.ended, Buffer.from([0x88, 2, 4001 >> 8, 4001 & 0xff]));
});

test('the server\'s frames read back through the client side, and the client\'s masked frames through the server side', (t) => {
  const client = new WebSocketClientProtocol({ path: '/', protocols: [], maxMessage: 1 << 20, maxHeader: 8192 });
  const link = new FakeLink();
  client.attach(link);
  const key = /Sec-WebSocket-Key: (\S+)\r\n/.exec(link.writes[0]!.toString())![1]!;
  const answer = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
  // Text of every header size and character width, with the 41-character shortcut's edges; bytes likewise.
  const replies: (string | Buffer)[] = [
    '', 'a', 'é'.repeat(41), '€'.repeat(41), 'x'.repeat(42), '😀'.repeat(20), 'y'.repeat(125), 'y'.repeat(126), 'z'.repeat(65_535), 'z'.repeat(65_536),
    Buffer.alloc(0), Buffer.alloc(125, 1), Buffer.alloc(126, 2), Buffer.alloc(70_000, 3),
  ];
  const server = new WebSocketProtocol(OPTIONS);
  const total = replies.reduce((n, r) => n + server.encodedLength(r), 0);
  const out = Buffer.alloc(total);
  let offset = 0;
  for (const r of replies) offset = server.encodeInto(r, out, offset);
  t.is(offset, total);
  const got: Message[] = [];
  decodeMessages(client, new Cumulator(), Buffer.concat([Buffer.from(answer), out]), (m) => got.push(m));
  t.deepEqual(got.map(show), replies.map(show));
  // And back: the client's frames, masked, are the server's messages.
  const sentBack = Buffer.concat(replies.map((r) => Buffer.from(client.encode(r))));
  const { messages, error } = serve([Buffer.from(upgradeRequest()), sentBack]);
  t.is(error, undefined);
  t.deepEqual(messages.map(show), replies.map(show));
});

/** A message as text for comparing: its kind and content. */
function show(m: string | Buffer): string {
  return typeof m === 'string' ? `text ${m.length} ${m.slice(0, 8)}` : `binary ${m.length} ${m.subarray(0, 4).toString('hex')}`;
}
