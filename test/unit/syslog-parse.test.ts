import test from 'ava';
import fc from 'fast-check';
import { parseSyslog, type SyslogMessage } from '@socketserver/plugin-syslog';

// The parser on its own: RFC 5424, RFC 3164 and rsyslog's variants, malformed input kept and flagged.

const parse = (s: string | Buffer): SyslogMessage => parseSyslog(typeof s === 'string' ? Buffer.from(s) : s);
/** Plain objects (structured data is built without a prototype). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('RFC 5424: every header field, structured data, the BOM before MSG', (t) => {
  const m = parse('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] \uFEFFAn application event log entry...');
  t.is(m.format, '5424');
  t.is(m.facility, 20);
  t.is(m.severity, 5);
  t.is(m.version, 1);
  t.is(m.timestamp?.toISOString(), '2003-10-11T22:14:15.003Z');
  t.is(m.hostname, 'mymachine.example.com');
  t.is(m.appName, 'evntslog');
  t.is(m.procId, '1234');
  t.is(m.msgId, 'ID47');
  t.deepEqual(plain(m.structuredData), {
    'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
    'examplePriority@32473': { class: 'high' },
  });
  t.is(m.message, 'An application event log entry...');
  t.is(m.malformed, undefined);
});

test('RFC 5424: NILVALUEs, no MSG, a time zone offset', (t) => {
  const m = parse('<34>1 2003-10-11T22:14:15+02:00 - - - - -');
  t.is(m.timestamp?.toISOString(), '2003-10-11T20:14:15.000Z');
  t.is(m.hostname, undefined);
  t.is(m.appName, undefined);
  t.is(m.procId, undefined);
  t.is(m.msgId, undefined);
  t.deepEqual(plain(m.structuredData), {});
  t.is(m.message, '');
  t.is(m.malformed, undefined);
  const nilTime = parse('<34>1 - host app - - - text');
  t.is(nilTime.timestamp, undefined);
  t.is(nilTime.message, 'text');
  t.is(nilTime.malformed, undefined);
});

test('RFC 5424: escapes in param values (\\" \\\\ \\]), other backslashes kept', (t) => {
  const m = parse('<14>1 - h a - - [x@1 a="q\\"uote" b="back\\\\slash" c="br\\]acket" d="C:\\dir"] msg');
  t.deepEqual(plain(m.structuredData), { 'x@1': { a: 'q"uote', b: 'back\\slash', c: 'br]acket', d: 'C:\\dir' } });
  t.is(m.message, 'msg');
  t.is(m.malformed, undefined);
});

test('RFC 5424: bad structured data keeps what was parsed, the rest is the message', (t) => {
  const m = parse('<14>1 - h a - - [ok@1 x="1"][bad@1 y=unquoted] rest');
  t.deepEqual(m.malformed, ['bad STRUCTURED-DATA']);
  t.is((m.structuredData['ok@1'] ?? {}).x, '1');
  t.is(m.message, '[ok@1 x="1"][bad@1 y=unquoted] rest');
  t.deepEqual(parse('<14>1 - h a - - [unterminated@1 x="1').malformed, ['bad STRUCTURED-DATA']);
});

test('RFC 5424: a bad timestamp and a header cut short are flagged, the rest kept', (t) => {
  const m = parse('<14>1 yesterday host app - - - hello');
  t.deepEqual(m.malformed, ['bad TIMESTAMP']);
  t.is(m.hostname, 'host');
  t.is(m.message, 'hello');
  const cut = parse('<14>1 2003-10-11T22:14:15Z host');
  t.deepEqual(cut.malformed, ['header cut short']);
  t.is(cut.hostname, 'host');
  t.is(cut.appName, undefined);
  t.is(cut.message, '');
});

test('RFC 3164: timestamp, hostname, TAG[PID]', (t) => {
  const m = parse('<34>Oct 11 22:14:15 mymachine su[123]: \'su root\' failed for lonvick on /dev/pts/8');
  t.is(m.format, '3164');
  t.is(m.facility, 4);
  t.is(m.severity, 2);
  t.is(m.version, undefined);
  t.is(m.timestamp?.getMonth(), 9);
  t.is(m.timestamp?.getDate(), 11);
  t.is(m.timestamp?.getHours(), 22);
  t.is(m.timestamp?.getSeconds(), 15);
  t.is(m.hostname, 'mymachine');
  t.is(m.appName, 'su');
  t.is(m.procId, '123');
  t.is(m.message, '\'su root\' failed for lonvick on /dev/pts/8');
  t.is(m.malformed, undefined);
});

test('RFC 3164 variants: a space-padded day, no hostname, no PID, an ISO timestamp', (t) => {
  const padded = parse('<13>Feb  5 01:02:03 host app: text');
  t.is(padded.timestamp?.getDate(), 5);
  t.is(padded.hostname, 'host');
  t.is(padded.appName, 'app');
  t.is(padded.procId, undefined);
  t.is(padded.message, 'text');
  const noHost = parse('<13>Feb  5 01:02:03 app[7]: text');
  t.is(noHost.hostname, undefined);
  t.is(noHost.appName, 'app');
  t.is(noHost.procId, '7');
  t.is(noHost.message, 'text');
  const iso = parse('<13>2024-03-01T10:00:00.5+01:00 host app: text');
  t.is(iso.timestamp?.toISOString(), '2024-03-01T09:00:00.500Z');
  t.is(iso.hostname, 'host');
  t.is(iso.message, 'text');
  t.is(iso.malformed, undefined);
  const noTag = parse('<13>Feb  5 01:02:03 host just some words');
  t.is(noTag.appName, undefined);
  t.is(noTag.message, 'just some words');
});

test('no PRI: facility user, severity notice, the whole line the message, flagged', (t) => {
  for (const line of ['hello world', '<999>1 - - - - - - x', '<abc>x', '<01>x', '']) {
    const m = parse(line);
    t.is(m.facility, 1, line);
    t.is(m.severity, 5, line);
    t.is(m.message, line);
    t.is(m.malformed?.length, 1, line);
  }
  t.deepEqual(parse('hello').malformed, ['no PRI']);
  t.deepEqual(parse('<192>x').malformed, ['bad PRI']);
  t.deepEqual(parse('<13>no timestamp here').malformed, ['no TIMESTAMP']);
  t.is(parse('<13>no timestamp here').message, 'no timestamp here');
});

test('hostile input: long runs of what each scanner looks for finish, and quickly', (t) => {
  const n = 1 << 20;
  const inputs = [
    '<13>1 ' + ' '.repeat(n),
    '<13>1 - h a - - ' + '['.repeat(n),
    '<13>1 - h a - - [x' + ' a="1"'.repeat(n / 8),
    '<13>1 - h a - - [x a="' + '\\'.repeat(n),
    '<13>Jan  1 00:00:00 ' + 'a'.repeat(n),
    '<13>Jan  1 00:00:00 h ' + '['.repeat(n),
    '<13>' + '2'.repeat(n),
    '<'.repeat(n),
  ];
  const started = performance.now();
  for (const s of inputs) {
    const m = parse(s);
    t.true(s.endsWith(m.message), s.slice(0, 30));
  }
  // Generous: a backtracking scan over 1 MiB would take minutes.
  t.true(performance.now() - started < 20_000);
});

test('property: never throws on any bytes, the message is the tail of the raw input', (t) => {
  const syslogish = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.array(fc.constantFrom('<', '>', '1', '3', ' ', '-', '[', ']', '"', '\\', '=', ':', 'a', 'T', 'Z', 'Jan', '\uFEFF', '2024-01-01T00:00:00Z'), { maxLength: 60 })
      .map((parts) => Buffer.from(parts.join(''))),
  );
  fc.assert(fc.property(syslogish, (bytes) => {
    const m = parseSyslog(bytes);
    const raw = bytes.toString('utf8');
    if (m.raw !== raw) return false;
    if (!raw.endsWith(m.message)) return false;
    if (m.facility < 0 || m.facility > 23 || m.severity < 0 || m.severity > 7) return false;
    return m.malformed === undefined || m.malformed.length > 0;
  }), { numRuns: 3000 });
  t.pass();
});
