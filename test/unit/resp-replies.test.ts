import test from 'ava';
import { RespProtocol, RespError, respClient, simple, error, NULL_ARRAY, type Reply } from '@socketserver/plugin-resp';

const protocol = new RespProtocol(512 * 1024 * 1024, 2147483647);

function encoded(reply: Reply): string {
  const out = Buffer.alloc(protocol.encodedLength(reply));
  t_is_end(protocol.encodeInto(reply, out, 0), out.length);
  return out.toString('latin1');
}
function t_is_end(end: number, length: number): void {
  if (end !== length) throw new Error(`encodeInto wrote ${end} bytes, encodedLength said ${length}`);
}

/** Feed `chunks` to a client protocol as the framework does; every reply decoded (none may be left over). */
function decodeReplies(chunks: Buffer[]): unknown[] {
  const client = respClient();
  const values: unknown[] = [];
  let rest = Buffer.alloc(0);
  for (const chunk of chunks) {
    const data = Buffer.concat([rest, chunk]);
    let start = 0;
    for (let guard = 0; guard < 1000 && start < data.length; guard++) {
      const value = client.decodeAt(data, start);
      if (value === undefined) break;
      values.push(value);
      start = client.next;
    }
    rest = data.subarray(start);
  }
  if (rest.length !== 0) throw new Error(`${rest.length} bytes left undecoded`);
  return values;
}

test('typed replies encode as RESP2', (t) => {
  t.is(encoded(simple('OK')), '+OK\r\n');
  t.is(encoded(error('ERR nope')), '-ERR nope\r\n');
  t.is(encoded(new Error('boom')), '-ERR boom\r\n');
  t.is(encoded(new Error('WRONGTYPE bad kind')), '-WRONGTYPE bad kind\r\n');
  t.is(encoded(simple('a\r\nb')), '+a  b\r\n');
  t.is(encoded(42), ':42\r\n');
  t.is(encoded(-7), ':-7\r\n');
  t.is(encoded(12345678901234567890n), ':12345678901234567890\r\n');
  t.is(encoded('héllo'), '$6\r\nh\xc3\xa9llo\r\n');
  t.is(encoded(Buffer.from([0, 13, 10])), '$3\r\n\0\r\n\r\n');
  t.is(encoded(''), '$0\r\n\r\n');
  t.is(encoded(null), '$-1\r\n');
  t.is(encoded(NULL_ARRAY), '*-1\r\n');
  t.is(encoded([]), '*0\r\n');
  t.is(encoded([1, [simple('x'), null], 'ab']), '*3\r\n:1\r\n*2\r\n+x\r\n$-1\r\n$2\r\nab\r\n');
  t.true(protocol.encodesNull);
});

test('anything else cannot be encoded: a TypeError', (t) => {
  t.throws(() => protocol.encodedLength(1.5), { instanceOf: TypeError });
  t.throws(() => protocol.encodedLength([undefined] as unknown as Reply), { instanceOf: TypeError });
  t.throws(() => protocol.encodedLength({} as unknown as Reply), { instanceOf: TypeError });
  t.throws(() => protocol.encodedLength(true as unknown as Reply), { instanceOf: TypeError });
});

test('the client encodes requests as multibulk', (t) => {
  const client = respClient();
  t.is(client.encode('SET k  v').toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
  t.is(client.encode(['ECHO', Buffer.from('a b')]).toString(), '*2\r\n$4\r\nECHO\r\n$3\r\na b\r\n');
});

test('the client decodes replies, nested, split at every byte', (t) => {
  const wire = Buffer.from('+OK\r\n-ERR no\r\n:5\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*3\r\n:1\r\n*1\r\n+x\r\n$0\r\n\r\n:99999999999999999999\r\n');
  const values = decodeReplies([...wire].map((b) => Buffer.from([b])));
  t.is(values.length, 8);
  t.is(values[0], 'OK');
  t.true(values[1] instanceof RespError);
  t.is((values[1] as RespError).message, 'ERR no');
  t.is(values[2], 5);
  t.deepEqual(values[3], Buffer.from('a\r\n'));
  t.is(values[4], null);
  t.is(values[5], null);
  t.deepEqual(values[6], [1, ['x'], Buffer.alloc(0)]);
  t.is(values[7], 99999999999999999999n);
});

test('server replies cut at random points decode on the client to the same values', async (t) => {
  const fc = (await import('fast-check')).default;
  // Reply → what the client gives back for it.
  const value: any = fc.letrec((tie: any) => ({
    leaf: fc.oneof(
      fc.integer().map((n: number) => [n, n]),
      fc.uint8Array({ maxLength: 20 }).map((b: Uint8Array) => [Buffer.from(b), Buffer.from(b)]),
      fc.constant([null, null]),
      fc.constant([NULL_ARRAY, null]),
      fc.stringMatching(/^[a-z ]{0,10}$/).map((s: string) => [simple(s), s]),
    ),
    node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }).map((items: any[]) => [items.map((i) => i[0]), items.map((i) => i[1])])),
  })).node;
  fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (pairs: any[], cuts: number[]) => {
    const wire = Buffer.concat(pairs.map(([reply]: [Reply, unknown]) => protocol.encode(reply)));
    const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
    const values = decodeReplies([...points, wire.length].map((p, i, all) => wire.subarray(i === 0 ? 0 : all[i - 1], p)));
    t.deepEqual(values, pairs.map((p: [Reply, unknown]) => p[1]));
  }), { numRuns: 200 });
});
