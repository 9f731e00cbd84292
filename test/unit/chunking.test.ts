import test from 'ava';
import fc from 'fast-check';
import { LineProtocol } from '@socketserver/plugin-line';
import { NetstringProtocol } from '@socketserver/plugin-netstring';
import { inject } from '@socketserver/testing';
import { REPO } from '../helpers/ss.js';

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

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
// A line holds no \n and does not end in \r (the protocol strips one from "...\r\n").
const lineMessage = bytes(300).map((b) => {
  const clean = Buffer.from(b.filter((x) => x !== 0x0a));
  let end = clean.length;
  while (end > 0 && clean[end - 1] === 0x0d) end--;
  return clean.subarray(0, end);
});

/**
 * Encode random messages, cut the stream at random points, inject the pieces as reads
 * through the real pipeline: the handler must see the same messages, and (echo handler)
 * the output must be the same stream, decoding to the same messages.
 */
async function roundTrip(plugin: string, encode: (m: Buffer) => Buffer, messages: Buffer[], cuts: number[]): Promise<boolean> {
  const seen: Buffer[] = [];
  const handler = (m: Buffer) => { seen.push(Buffer.from(m)); return m; };
  const stream = Buffer.concat(messages.map(encode));
  const r = await inject<Buffer>({ plugins: [plugin], handler, cwd: REPO }, split(stream, cuts));
  const same = (got: Buffer[]) => got.length === messages.length && got.every((m, i) => m.equals(messages[i]!));
  return same(seen) && same(r.replies) && r.output.equals(stream);
}

test('line: random messages cut at random points decode to the same messages', async (t) => {
  const encode = (m: Buffer) => new LineProtocol(1 << 20).encode(m);
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.array(lineMessage, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 30 }),
    (messages, cuts) => roundTrip('line', encode, messages, cuts)), { numRuns: 200 }));
});

test('netstring: random messages cut at random points decode to the same messages', async (t) => {
  const encode = (m: Buffer) => new NetstringProtocol(1 << 20).encode(m);
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(fc.array(bytes(3000), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }),
    (messages, cuts) => roundTrip('netstring', encode, messages, cuts)), { numRuns: 200 }));
});

test('netstring: one byte per read still decodes (scan state survives every read)', async (t) => {
  const encode = (m: Buffer) => new NetstringProtocol(1 << 20).encode(m);
  const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('x'.repeat(1234))];
  const total = messages.reduce((n, m) => n + encode(m).length, 0);
  t.true(await roundTrip('netstring', encode, messages, Array.from({ length: total }, (_, i) => i)));
});

test('echo: each read is one message and comes back as it was', async (t) => {
  const seen: string[] = [];
  const r = await inject({ plugins: ['echo'], handler: (m: Buffer) => { seen.push(String(m)); return m; }, cwd: REPO }, ['a', 'bc', 'def']);
  t.deepEqual(seen, ['a', 'bc', 'def']);
  t.deepEqual(r.replies.map(String), ['a', 'bc', 'def']);
  t.is(String(r.output), 'abcdef');
});
