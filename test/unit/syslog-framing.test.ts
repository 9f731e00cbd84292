import test from 'ava';
import fc from 'fast-check';
import { Cumulator, decodeMessages, ProtocolError } from '@socketserver/core';
import { jsonLineWriter, newCounts, parseSyslog, SyslogProtocol, type SyslogCounts, type SyslogMessage } from '@socketserver/plugin-syslog';

// RFC 6587 framing as the framework feeds it (a Cumulator, `expected`, the cursor), and datagram mode.

function feed(chunks: (string | Buffer)[], options: { maxMessage?: number; datagram?: boolean; counts?: SyslogCounts } = {}): SyslogMessage[] {
  const protocol = new SyslogProtocol({ maxMessage: options.maxMessage ?? 1024, datagram: options.datagram, counts: options.counts });
  const got: SyslogMessage[] = [];
  const pending = new Cumulator();
  for (const chunk of chunks) decodeMessages(protocol, pending, Buffer.from(chunk), (m) => got.push(m));
  return got;
}

const A = '<14>1 - host app - - - first';
const B = '<13>Jan  1 00:00:00 host tag: second\nwith a newline inside';

test('octet counting and non-transparent framing, mixed on one stream, told apart per message', (t) => {
  const stream = `${Buffer.byteLength(B)} ${B}${A}\n${A}\r\n\n${A}\x000 ${Buffer.byteLength(A)} ${A}`;
  const got = feed([stream]);
  t.deepEqual(got.map((m) => m.message), ['second\nwith a newline inside', 'first', 'first', 'first', 'first']);
});

test('any split of the stream into reads gives the same messages', (t) => {
  const stream = Buffer.from(`${Buffer.byteLength(B)} ${B}${A}\n${A}\r\n${Buffer.byteLength(A)} ${A}\n${A}\0`);
  const whole = feed([stream]).map((m) => m.raw);
  t.is(whole.length, 5);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
    const at = [...new Set(cuts)].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let from = 0;
    for (const c of at) {
      chunks.push(stream.subarray(from, c));
      from = c;
    }
    chunks.push(stream.subarray(from));
    const got = feed(chunks).map((m) => m.raw);
    return JSON.stringify(got) === JSON.stringify(whole);
  }), { numRuns: 300 });
  t.pass();
});

test('over the limit: an octet count says so before the message comes; a line as its bytes do', (t) => {
  const count = t.throws(() => feed(['65 '], { maxMessage: 64 }), { instanceOf: ProtocolError });
  t.regex(count.message, /longer than 64 bytes \(--syslog-max-message\)/);
  t.throws(() => feed(['<13>' + 'x'.repeat(70)], { maxMessage: 64 }), { instanceOf: ProtocolError });
  t.is(feed(['64 ' + 'x'.repeat(64)], { maxMessage: 64 }).length, 1);
  t.is(feed(['x'.repeat(64) + '\r\n'], { maxMessage: 64 }).length, 1);
  t.throws(() => feed(['12x'], { maxMessage: 64 }), { instanceOf: ProtocolError, message: /octet count/ });
  t.throws(() => feed(['012 '], { maxMessage: 64 }), { instanceOf: ProtocolError, message: /leading zero/ });
});

test('datagram mode: the whole datagram is one message, trailing newline trimmed', (t) => {
  const counts = newCounts();
  const got = feed([`${A}\nstill the same message\n`, '12 not a count', '\n'], { datagram: true, counts });
  t.deepEqual(got.map((m) => m.raw), [`${A}\nstill the same message`, '12 not a count']);
  t.deepEqual(counts, { messages: 2, malformed: 1, dropped: 0 });
});

test('messages and malformed ones are counted', (t) => {
  const counts = newCounts();
  feed([`${A}\nno pri at all\n<13>Jan  1 00:00:00 h t: ok\n`], { counts });
  t.deepEqual(counts, { messages: 3, malformed: 1, dropped: 0 });
});

test('the default handler: a JSON line per message; over its limit of unwritten bytes, dropped and counted', (t) => {
  const written: string[] = [];
  const out = { writableLength: 0, write: (line: string) => written.push(line) };
  const counts = newCounts();
  const write = jsonLineWriter(out, counts, 100);
  t.is(write(parseSyslog(Buffer.from('<14>1 2003-10-11T22:14:15Z h a - - [x@1 k="v"] hi'))), undefined);
  t.deepEqual(JSON.parse(written[0]!), {
    facility: 1, severity: 6, version: 1, timestamp: '2003-10-11T22:14:15.000Z', hostname: 'h', appName: 'a',
    structuredData: { 'x@1': { k: 'v' } }, message: 'hi', format: '5424',
  });
  write(parseSyslog(Buffer.from('oops')));
  t.deepEqual(JSON.parse(written[1]!).raw, 'oops');
  t.true(written.every((l) => l.endsWith('}\n') && l.indexOf('\n') === l.length - 1));
  out.writableLength = 101;
  write(parseSyslog(Buffer.from('<14>lost')));
  t.is(written.length, 2);
  t.is(counts.dropped, 1);
});
