import test from 'ava';
import { ProxyHeaderParser, ProxyStage, V2_SIGNATURE, coreRegistry, crc32c, parseAllowEntry, type ProxyMode, type ProxyParse } from '@socketserver/core';

// Headers are built here by hand from the spec (doc/proxy-protocol.txt), not by the code under test.

interface Tlv { type: number; value: Buffer }

function tlv(type: number, value: Buffer | string): Tlv {
  return { type, value: typeof value === 'string' ? Buffer.from(value) : value };
}

function encodeTlvs(tlvs: readonly Tlv[]): Buffer {
  return Buffer.concat(tlvs.map(({ type, value }) => {
    const head = Buffer.alloc(3);
    head[0] = type;
    head.writeUInt16BE(value.length, 1);
    return Buffer.concat([head, value]);
  }));
}

/** A v2 header: `verCmd` (0x21 PROXY, 0x20 LOCAL), `fam` (0x11 TCP4 ...), the address block and TLVs. */
function v2(verCmd: number, fam: number, addresses: Buffer, tlvs: readonly Tlv[] = [], opts: { crc?: boolean } = {}): Buffer {
  let body = Buffer.concat([addresses, encodeTlvs(tlvs)]);
  if (opts.crc) body = Buffer.concat([body, encodeTlvs([tlv(0x03, Buffer.alloc(4))])]);
  const fixed = Buffer.alloc(4);
  fixed[0] = verCmd;
  fixed[1] = fam;
  fixed.writeUInt16BE(body.length, 2);
  const header = Buffer.concat([V2_SIGNATURE, fixed, body]);
  if (opts.crc) header.writeUInt32BE(crc32c(header), header.length - 4);
  return header;
}

function ipv4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function ipv6Block(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src, 'hex').copy(b, 0);
  Buffer.from(dst, 'hex').copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

const TCP4 = v2(0x21, 0x11, ipv4Block([203, 0, 113, 7], [192, 0, 2, 1], 51234, 443));

/** Feed `input` in the pieces given by `cuts` (offsets); the answer, with the unfed pieces after a header in its rest. */
function feedSplit(mode: ProxyMode, input: Buffer, cuts: readonly number[]): ProxyParse {
  const p = new ProxyHeaderParser(mode);
  const bounds = [0, ...cuts, input.length];
  let result: ProxyParse = { kind: 'more' };
  for (let i = 0; i + 1 < bounds.length; i++) {
    // A fresh copy per piece: the parser must not depend on pieces sharing memory.
    result = p.feed(Buffer.from(input.subarray(bounds[i], bounds[i + 1])));
    // What a later piece held is application data too: the rest, as a caller would read it next.
    if (result.kind === 'header') return { ...result, rest: Buffer.concat([result.rest, input.subarray(bounds[i + 1])]) };
    if (result.kind !== 'more') return result;
  }
  return result;
}

function parse(mode: ProxyMode, input: Buffer | string): ProxyParse {
  return feedSplit(mode, typeof input === 'string' ? Buffer.from(input, 'latin1') : input, []);
}

function header(r: ProxyParse) {
  if (r.kind !== 'header') throw new Error(`expected a header, got ${JSON.stringify(r)}`);
  return r;
}

test('crc32c: the RFC 4960 check value', (t) => {
  t.is(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.is(crc32c(Buffer.alloc(0)), 0);
});

test('v1 TCP4: addresses and ports; the bytes after the CRLF are the rest', (t) => {
  const r = header(parse('v1', 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /'));
  t.deepEqual(r.header, {
    version: 1, command: 'proxy', tlvs: {},
    source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 },
  });
  t.is(r.rest.toString(), 'GET /');
});

test('v1 TCP6 and the longest line (107 bytes) are accepted', (t) => {
  const r = header(parse('auto', 'PROXY TCP6 2001:db8::1 ::1 0 65535\r\n'));
  t.deepEqual(r.header.source, { address: '2001:db8::1', port: 0 });
  t.deepEqual(r.header.destination, { address: '::1', port: 65535 });
  const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const longest = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
  t.is(longest.length, 107);
  const u = header(parse('v1', longest));
  t.is(u.header.source, undefined, 'UNKNOWN: the real endpoints stand');
  t.is(u.rest.length, 0);
  const tcp6 = `PROXY TCP6 ${full} ${full} 65535 65535\r\nx`;
  t.is(header(parse('v1', tcp6)).header.source?.address, full);
});

test('v1 UNKNOWN, short and with anything before the CRLF', (t) => {
  t.is(header(parse('v1', 'PROXY UNKNOWN\r\n')).header.source, undefined);
  t.is(header(parse('v1', 'PROXY UNKNOWN whatever is here\r\nhi')).rest.toString(), 'hi');
});

const V1_BAD: readonly [string, string | Buffer, RegExp][] = [
  ['not PROXY', 'GET / HTTP/1.1\r\n', /no PROXY v1 header/],
  ['lower case', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /no PROXY v1 header/],
  ['two spaces after PROXY', 'PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "" is not/],
  ['unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "UDP4"/],
  ['too long (no CRLF in 107 bytes)', `PROXY UNKNOWN ${'a'.repeat(120)}\r\n`, /no CRLF within 107/],
  ['CR at byte 107 (CRLF would end at 108)', `PROXY UNKNOWN ${'a'.repeat(106 - 14)}\r\n`, /no CRLF within 107/],
  ['LF without CR', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
  ['CR without LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /CR without LF/],
  ['a control byte', 'PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n', /not printable/],
  ['a byte over 0x7e', Buffer.from('PROXY TCP4 1.2.3.\xe94 5.6.7.8 1 2\r\n', 'latin1'), /not printable/],
  ['missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /exactly/],
  ['extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /exactly/],
  ['trailing space', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /exactly/],
  ['port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port "65536"/],
  ['port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n', /destination port "080"/],
  ['port not a number', 'PROXY TCP4 1.2.3.4 5.6.7.8 x 2\r\n', /source port "x"/],
  ['negative port', 'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /source port "-1"/],
  ['IPv4 part over 255', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /source "1.2.3.256" is not an IPv4/],
  ['IPv4 leading zero (octal look-alike)', 'PROXY TCP4 1.2.3.4 5.6.7.010 1 2\r\n', /destination "5.6.7.010"/],
  ['IPv4 with three parts', 'PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', /source "1.2.3"/],
  ['TCP4 with IPv6 addresses', 'PROXY TCP4 ::1 ::1 1 2\r\n', /source "::1" is not an IPv4/],
  ['TCP6 with IPv4 addresses', 'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', /source "1.2.3.4" is not an IPv6/],
  ['TCP6 with two ::', 'PROXY TCP6 1::2::3 ::1 1 2\r\n', /source "1::2::3"/],
  ['TCP6 with an embedded IPv4', 'PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n', /source "::ffff:1.2.3.4"/],
  ['TCP6 with a zone', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /source "fe80::1%eth0"/],
  ['a host name', 'PROXY TCP4 localhost 5.6.7.8 1 2\r\n', /source "localhost"/],
];

for (const [name, input, reason] of V1_BAD) {
  test(`v1 malformed: ${name}`, (t) => {
    const r = parse('v1', input);
    t.is(r.kind, 'error');
    if (r.kind === 'error') t.regex(r.reason, reason);
  });
}

test('v1: a line still short of its CRLF needs more; at 107 bytes without one it is refused', (t) => {
  const p = new ProxyHeaderParser('v1');
  t.is(p.feed(Buffer.from('PROXY TCP4 1.2.3.4')).kind, 'more');
  t.is(p.feed(Buffer.from(' 5.6.7.8 1 2\r')).kind, 'more', 'a CR at the end waits for its LF');
  t.is(header(p.feed(Buffer.from('\n'))).header.source?.port, 1);
  const q = new ProxyHeaderParser('v1');
  t.is(q.feed(Buffer.from(`PROXY UNKNOWN ${'a'.repeat(106 - 14)}`)).kind, 'more', '106 bytes: the CRLF could still come');
  t.is(q.feed(Buffer.from('a')).kind, 'error');
});

test('v2 PROXY over TCP4, with the first application data after it', (t) => {
  const r = header(parse('v2', Buffer.concat([TCP4, Buffer.from('PING\r\n')])));
  t.deepEqual(r.header, {
    version: 2, command: 'proxy', tlvs: {},
    source: { address: '203.0.113.7', port: 51234 }, destination: { address: '192.0.2.1', port: 443 },
  });
  t.is(r.rest.toString(), 'PING\r\n');
});

test('v2 PROXY over TCP6 and UDP6: addresses in RFC 5952 text', (t) => {
  const block = ipv6Block('20010db8000000000000000000000001', '00000000000000000000000000000001', 1, 2);
  for (const fam of [0x21, 0x22]) {
    const r = header(parse('auto', v2(0x21, fam, block)));
    t.deepEqual(r.header.source, { address: '2001:db8::1', port: 1 });
    t.deepEqual(r.header.destination, { address: '::1', port: 2 });
  }
  const noRun = ipv6Block('20010db8000100020003000400050006', '20010000000000010000000000010001', 3, 4);
  const r = header(parse('v2', v2(0x21, 0x21, noRun)));
  t.is(r.header.source?.address, '2001:db8:1:2:3:4:5:6');
  t.is(r.header.destination?.address, '2001::1:0:0:1:1', 'the first of two equal runs');
});

test('v2 PROXY over AF_UNIX: paths up to the NUL, no ports', (t) => {
  const block = Buffer.alloc(216);
  block.write('/run/client.sock', 0);
  block.write('/run/server.sock', 108);
  const r = header(parse('v2', v2(0x21, 0x31, block)));
  t.deepEqual(r.header.source, { address: '/run/client.sock', port: undefined });
  t.deepEqual(r.header.destination, { address: '/run/server.sock', port: undefined });
});

test('v2 LOCAL keeps the real endpoints, whatever its block holds', (t) => {
  const r = header(parse('v2', Buffer.concat([v2(0x20, 0x00, Buffer.alloc(0)), Buffer.from('x')])));
  t.deepEqual(r.header, { version: 2, command: 'local', source: undefined, destination: undefined, tlvs: {} });
  t.is(r.rest.toString(), 'x');
  const withBlock = header(parse('v2', v2(0x20, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))));
  t.is(withBlock.header.command, 'local');
  t.is(withBlock.header.source, undefined, 'the length is skipped, not assumed zero');
});

test('v2 PROXY with UNSPEC family or transport: the real endpoints stand', (t) => {
  t.is(header(parse('v2', v2(0x21, 0x00, Buffer.alloc(0)))).header.source, undefined);
  t.is(header(parse('v2', v2(0x21, 0x10, Buffer.alloc(12)))).header.source, undefined);
});

test('v2 TLVs: ALPN, AUTHORITY, UNIQUE_ID, SSL with its version and CN exposed; NOOP and unknown ones skipped', (t) => {
  const sslSub = encodeTlvs([tlv(0x21, 'TLSv1.3'), tlv(0x22, 'client.example'), tlv(0x23, 'TLS_AES_128_GCM_SHA256'), tlv(0x28, Buffer.from([1, 2, 3]))]);
  const ssl = Buffer.concat([Buffer.from([0x07, 0, 0, 0, 0]), sslSub]);
  const tlvs = [tlv(0x01, 'h2'), tlv(0x04, Buffer.alloc(5)), tlv(0x02, 'example.com'), tlv(0x05, Buffer.from([9, 8, 7])),
    tlv(0xe0, 'custom'), tlv(0x20, ssl), tlv(0x30, 'netns')];
  const r = header(parse('v2', v2(0x21, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlvs, { crc: true })));
  t.deepEqual(r.header.tlvs, {
    alpn: 'h2', authority: 'example.com', uniqueId: Buffer.from([9, 8, 7]),
    ssl: { client: 7, verified: true, version: 'TLSv1.3', cn: 'client.example', cipher: 'TLS_AES_128_GCM_SHA256' },
  });
  t.deepEqual(r.header.source, { address: '1.2.3.4', port: 1 });
  const unverified = Buffer.from([0x01, 0, 0, 0, 1]);
  t.deepEqual(header(parse('v2', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x20, unverified)]))).header.tlvs.ssl, { client: 1, verified: false });
});

test('v2 CRC32C: a correct sum passes, any flipped bit fails', (t) => {
  const good = v2(0x21, 0x11, ipv4Block([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000), [tlv(0x02, 'a.example')], { crc: true });
  t.is(parse('v2', good).kind, 'header');
  for (const at of [0x10, 0x14, good.length - 12, good.length - 1]) {
    const bad = Buffer.from(good);
    bad[at] ^= 0x01;
    const r = parse('v2', bad);
    t.is(r.kind, 'error', `bit flipped at ${at}`);
    if (r.kind === 'error') t.regex(r.reason, /CRC32C does not match/);
  }
});

const V2_BAD: readonly [string, Buffer, RegExp][] = [
  ['bad signature', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x55, 0x0a]), TCP4.subarray(12)]), /signature/],
  ['version 1 in the binary form', Buffer.concat([TCP4.subarray(0, 12), Buffer.from([0x11]), TCP4.subarray(13)]), /version 1, not 2/],
  ['version 3', Buffer.concat([TCP4.subarray(0, 12), Buffer.from([0x31]), TCP4.subarray(13)]), /version 3, not 2/],
  ['command 2', Buffer.concat([TCP4.subarray(0, 12), Buffer.from([0x22]), TCP4.subarray(13)]), /command 2/],
  ['command 15', Buffer.concat([TCP4.subarray(0, 12), Buffer.from([0x2f]), TCP4.subarray(13)]), /command 15/],
  ['family 4', v2(0x21, 0x41, Buffer.alloc(12)), /address family 4/],
  ['transport 3', v2(0x21, 0x13, Buffer.alloc(12)), /transport 3/],
  ['TCP4 block truncated', v2(0x21, 0x11, Buffer.alloc(11)), /11 bytes, less than the 12/],
  ['TCP6 block truncated', v2(0x21, 0x21, Buffer.alloc(12)), /12 bytes, less than the 36/],
  ['UNIX block truncated', v2(0x21, 0x31, Buffer.alloc(200)), /200 bytes, less than the 216/],
  ['TLV header truncated', v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([0x01, 0x00])])), /TLV is truncated/],
  ['TLV value longer than the header', v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12), Buffer.from([0x01, 0x00, 0x05, 0x61])])), /longer \(5\)/],
  ['CRC32C TLV of 3 bytes', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x03, Buffer.alloc(3))]), /CRC32C TLV is 3 bytes/],
  ['UNIQUE_ID over 128 bytes', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x05, Buffer.alloc(129))]), /UNIQUE_ID is 129 bytes/],
  ['SSL TLV under 5 bytes', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x20, Buffer.alloc(4))]), /SSL TLV is 4 bytes/],
  ['SSL sub-TLV too long', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x20, Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 9, 0x41]))]), /sub-TLV 0x21 is longer/],
  ['CRC32C mismatch', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x03, Buffer.from([1, 2, 3, 4]))]), /CRC32C does not match/],
];

for (const [name, input, reason] of V2_BAD) {
  test(`v2 malformed: ${name}`, (t) => {
    for (const mode of ['v2', 'auto'] as const) {
      const r = parse(mode, input);
      t.is(r.kind, 'error', mode);
      if (r.kind === 'error') t.regex(r.reason, reason, mode);
    }
  });
}

test('a wrong first byte is refused at once, before the rest arrives', (t) => {
  t.is(new ProxyHeaderParser('auto').feed(Buffer.from('G')).kind, 'error');
  t.is(new ProxyHeaderParser('v2').feed(Buffer.from('P')).kind, 'error', 'v2 only: a v1 header is not accepted');
  t.is(new ProxyHeaderParser('v1').feed(Buffer.from([0x0d])).kind, 'error', 'v1 only: a v2 header is not accepted');
  t.is(new ProxyHeaderParser('v2').feed(V2_SIGNATURE.subarray(0, 11)).kind, 'more');
  t.is(new ProxyHeaderParser('auto').feed(Buffer.from('PROX!')).kind, 'error');
});

test('a truncated v2 header (announced length not there yet) needs more, and never answers early', (t) => {
  const p = new ProxyHeaderParser('v2');
  t.is(p.feed(TCP4.subarray(0, 15)).kind, 'more');
  t.is(p.feed(TCP4.subarray(15, TCP4.length - 1)).kind, 'more');
  t.is(header(p.feed(TCP4.subarray(TCP4.length - 1))).rest.length, 0);
});

// Every header split at every byte position (and byte by byte) gives what it gives whole.
const SPLIT_CASES: readonly [string, ProxyMode, Buffer][] = [
  ['v1 TCP4', 'auto', Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.0\r\n')],
  ['v1 TCP6', 'v1', Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\nrest')],
  ['v1 UNKNOWN', 'v1', Buffer.from('PROXY UNKNOWN\r\n')],
  ['v1 malformed (LF without CR)', 'v1', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nmore')],
  ['v2 TCP4 with TLVs and CRC', 'auto', Buffer.concat([v2(0x21, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 80, 8080),
    [tlv(0x01, 'http/1.1'), tlv(0x05, 'id-1')], { crc: true }), Buffer.from('*1\r\n$4\r\nPING\r\n')])],
  ['v2 TCP6', 'v2', Buffer.concat([v2(0x21, 0x21, ipv6Block('fd000000000000000000000000000001', 'fd000000000000000000000000000002', 9, 10)), Buffer.from('z')])],
  ['v2 LOCAL', 'v2', v2(0x20, 0x00, Buffer.alloc(0))],
  ['v2 CRC mismatch', 'v2', v2(0x21, 0x11, Buffer.alloc(12), [tlv(0x03, Buffer.from([0, 0, 0, 0]))])],
];

for (const [name, mode, input] of SPLIT_CASES) {
  test(`split at every byte position: ${name}`, (t) => {
    const whole = feedSplit(mode, input, []);
    t.not(whole.kind, 'more');
    for (let cut = 1; cut < input.length; cut++) t.deepEqual(feedSplit(mode, input, [cut]), whole, `cut at ${cut}`);
    t.deepEqual(feedSplit(mode, input, Array.from({ length: input.length - 1 }, (_, i) => i + 1)), whole, 'byte by byte');
  });
}

test('a header arriving byte by byte answers exactly at its last byte', (t) => {
  const p = new ProxyHeaderParser('auto');
  for (let i = 0; i < TCP4.length - 1; i++) t.is(p.feed(TCP4.subarray(i, i + 1)).kind, 'more');
  t.is(p.feed(TCP4.subarray(TCP4.length - 1)).kind, 'header');
  t.throws(() => p.feed(Buffer.from('x')), { message: /already answered/ });
});

test('proxy_allow_from: comma lists and repeats, * for anyone, CIDRs of both families; IPv4-mapped peers match as IPv4', (t) => {
  const registry = coreRegistry();
  const setting = registry.get('proxy_allow_from')!;
  const resolve = (cli: unknown) => registry.resolveOne(setting, cli === undefined ? {} : { cli: { 'proxy-allow-from': cli } }).value as ReturnType<typeof parseAllowEntry>[];
  t.deepEqual(resolve(undefined).map((e) => e.text), ['127.0.0.1', '::1'], 'the default');
  t.deepEqual(resolve(['10.0.0.0/8,fd00::/8', '192.0.2.1']).map((e) => e.text), ['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
  for (const bad of ['10.0.0.0/33', '::/129', '1.2.3', 'example.com', '10.0.0.0/8,', 'fe80::1%eth0', '10.0.0.0/x']) {
    t.throws(() => resolve(bad), { message: /^invalid --proxy-allow-from .*expected \*, an IP address or a CIDR/ }, bad);
  }
  const stage = (list: string[]) => new ProxyStage({ mode: 'v1', allow: list.map(parseAllowEntry), timeoutMs: 1000, log: () => {} });
  const local = stage(['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8']);
  for (const yes of ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.255.0.1', 'fd12::1']) t.true(local.allowed(yes), yes);
  for (const no of ['127.0.0.2', '11.0.0.1', '::2', 'fe80::1', '::ffff:11.0.0.1']) t.false(local.allowed(no), no);
  t.true(local.allowed(undefined), 'a unix-socket peer is local');
  t.true(stage(['*']).allowed('198.51.100.1'));
  t.false(stage([]).allowed('127.0.0.1'));
});
