import test from 'ava';
import fc from 'fast-check';
import { ProtocolError } from '@socketserver/core';
import { RespProtocol } from '@socketserver/plugin-resp';

const MAX = 2147483647;

/** Feed `chunks` as the framework does (the rest kept from where the last message, or ignored input, ended); the messages decoded. */
function feed(chunks: Buffer[], protocol = new RespProtocol(512 * 1024 * 1024, MAX)): string[][] {
  const out: string[][] = [];
  let rest = Buffer.alloc(0);
  for (const chunk of chunks) {
    const data = Buffer.concat([rest, chunk]);
    let start = 0;
    for (let guard = 0; guard < 1_000_000 && start < data.length; guard++) {
      const message = protocol.decodeAt(data, start);
      if (message === undefined) {
        if (protocol.next > start) {
          start = protocol.next;
          continue;
        }
        break;
      }
      out.push(message.map((b) => b.toString('latin1')));
      start = protocol.next;
    }
    rest = data.subarray(start);
    protocol.next = 0;
  }
  return out;
}

function multibulk(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;
}

function errorOf(input: string, protocol?: RespProtocol): ProtocolError {
  const err = (() => { try { feed([Buffer.from(input, 'latin1')], protocol); } catch (e) { return e; } return undefined; })();
  if (!(err instanceof ProtocolError)) throw new Error(`no ProtocolError for ${JSON.stringify(input)}`);
  return err;
}

test('multibulk and inline requests decode to the command and its arguments', (t) => {
  t.deepEqual(feed([Buffer.from('*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\nSET  k\t"v w"\n')]), [['ECHO', 'hi'], ['PING'], ['SET', 'k', 'v w']]);
});

test('empty lines, blank lines, *0 and negative counts give no message', (t) => {
  t.deepEqual(feed([Buffer.from('\r\n\n  \t\r\n*0\r\n*-1\r\n*-7\r\nPING\r\n\r\n')]), [['PING']]);
});

test('inline arguments are split as sdssplitargs does', (t) => {
  const line = String.raw`A "x\x41\n\r\t\b\a\\\"y" 'it\'s' a"b c"` + '\r\n';
  t.deepEqual(feed([Buffer.from(line)]), [['A', 'xA\n\r\t\b\u0007\\"y', "it's", 'ab c']]);
});

test('a bulk value is binary safe', (t) => {
  const value = '\r\n\0\xff$*';
  t.deepEqual(feed([Buffer.from(multibulk(['SET', 'k', value]), 'latin1')]), [['SET', 'k', value]]);
});

test('a large bulk is announced through expected once its length is read', (t) => {
  const protocol = new RespProtocol(512 * 1024 * 1024, MAX);
  t.is(protocol.decodeAt(Buffer.from('*2\r\n$3\r\nSET\r\n$1048576\r\nxx'), 0), undefined);
  t.is(protocol.expected, 4 + 9 + 10 + 1048576 + 2); // *2, $3 SET, $1048576, the value and its CRLF
});

const errors: [string, string, string][] = [
  ['an inline request over 64 KiB without a newline', 'x'.repeat(64 * 1024 + 1), 'too big inline request'],
  ['a count that is not a number', '*x\r\n', 'invalid multibulk length'],
  ['a count over the limit', '*2147483648\r\n', 'invalid multibulk length'],
  ['a count line over 64 KiB', '*' + '1'.repeat(64 * 1024 + 1), 'too big mbulk count string'],
  ['a bulk length that is not a number', '*1\r\n$x\r\n', 'invalid bulk length'],
  ['a negative bulk length', '*1\r\n$-1\r\n', 'invalid bulk length'],
  ['a bulk length over 512mb', '*1\r\n$536870913\r\n', 'invalid bulk length'],
  ['a bulk length line over 64 KiB', '*1\r\n$' + '1'.repeat(64 * 1024 + 1), 'too big bulk count string'],
  ['something else where a bulk is expected', '*1\r\n:1\r\n', "expected '$', got ':'"],
  ['unbalanced double quotes', 'SET k "v\r\n', 'unbalanced quotes in request'],
  ['unbalanced single quotes', "SET k 'v\r\n", 'unbalanced quotes in request'],
  ['a closing quote followed by a letter', 'SET k "v"w\r\n', 'unbalanced quotes in request'],
];

for (const [name, input, what] of errors) {
  test(`${name}: Redis's error, as the final reply`, (t) => {
    const err = errorOf(input);
    t.is(err.reply, `-ERR Protocol error: ${what}\r\n`);
    t.is(err.message, `resp: Protocol error: ${what}`);
  });
}

test('the limits are settings', (t) => {
  t.is(errorOf('*5\r\n', new RespProtocol(1024, 4)).reply, '-ERR Protocol error: invalid multibulk length\r\n');
  t.is(errorOf('*1\r\n$1025\r\n', new RespProtocol(1024, 4)).reply, '-ERR Protocol error: invalid bulk length\r\n');
  t.deepEqual(feed([Buffer.from(`*4\r\n$1024\r\n${'x'.repeat(1024)}\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n`)], new RespProtocol(1024, 4)).length, 1);
});

const arg = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[a-z0-9]+$/i.test(s)),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
);

test('random requests cut at random points decode to the same arrays', (t) => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.array(arg, { minLength: 1, maxLength: 5 }), fc.boolean()), { minLength: 1, maxLength: 8 }),
    fc.array(fc.nat(), { maxLength: 12 }),
    (requests, cuts) => {
      // Inline only for plain words (the inline form cannot carry arbitrary bytes).
      const expected = requests.map(([args]) => args);
      const wire = Buffer.from(requests.map(([args, inline]) =>
        inline && args.every((a) => /^[a-z0-9]+$/i.test(a)) ? args.join(' ') + '\r\n' : multibulk(args)).join(''), 'latin1');
      const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const p of points) { chunks.push(wire.subarray(from, p)); from = p; }
      chunks.push(wire.subarray(from));
      t.deepEqual(feed(chunks), expected);
    },
  ), { numRuns: 300 });
});

test('a request split at every byte decodes the same', (t) => {
  const wire = Buffer.from('PING\r\n' + multibulk(['SET', 'key', 'a\r\nb']) + '\n*0\r\nECHO "x y"\r\n');
  t.deepEqual(feed([...wire].map((b) => Buffer.from([b]))), [['PING'], ['SET', 'key', 'a\r\nb'], ['ECHO', 'x y']]);
});

test('ignored lines are consumed as read (next past them), so any run of them is accepted', (t) => {
  t.deepEqual(feed([Buffer.from('\r\n'.repeat(40_000) + '*0\r\n'.repeat(20_000) + 'PING\r\n')]), [['PING']]);
  const protocol = new RespProtocol(512 * 1024 * 1024, MAX);
  t.is(protocol.decodeAt(Buffer.from('PING\r\n\r\n'), 6), undefined);
  t.is(protocol.next, 8, 'the empty line is consumed');
  t.is(protocol.decodeAt(Buffer.from('x*-1\r\n*0'), 1), undefined);
  t.is(protocol.next, 6, '*-1 is consumed, the incomplete *0 is not');
  t.deepEqual(protocol.decode(Buffer.from('\r\n*0\r\nPING\r\nx'))[0]!.map(String), ['PING']);
});
