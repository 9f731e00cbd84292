import test from 'ava';
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { freePort } from '../helpers/free-port.js';
import { runSs, startSs, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// PROXY protocol headers as a load balancer sends them (HAProxy's doc/proxy-protocol.txt),
// built here byte by byte; the handler answers with what the connection says of its client.

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}

/** A v2 PROXY header for TCP from src:sport to dst:dport, with TLVs: over IPv4 for 4-byte addresses, IPv6 for 16. */
function v2Tcp(src: number[], sport: number, dst: number[], dport: number, tlvs: Buffer[] = []): Buffer {
  const n = src.length;
  const block = Buffer.alloc(2 * n + 4);
  Buffer.from(src).copy(block, 0);
  Buffer.from(dst).copy(block, n);
  block.writeUInt16BE(sport, 2 * n);
  block.writeUInt16BE(dport, 2 * n + 2);
  const body = Buffer.concat([block, ...tlvs]);
  const fixed = Buffer.from([0x21, n === 4 ? 0x11 : 0x21, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, fixed, body]);
}

const V2_LOCAL = Buffer.concat([SIG, Buffer.from([0x20, 0x00, 0, 0])]);

/** A handler that reports the connection's client as the app sees it, as one JSON line. */
function whoHandler(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t, 'proxy');
  const file = join(dir, 'who.mjs');
  writeFileSync(file, `
export default function who(message, request) {
  const c = request.connection;
  const p = c.proxy;
  const proxy = p && { address: p.address, version: p.version, command: p.command, tlvs: { ...p.tlvs, uniqueId: p.tlvs.uniqueId?.toString('hex') } };
  return JSON.stringify({ said: message.toString(), peer: c.peer, remoteAddress: c.remoteAddress, remotePort: c.remotePort, proxy });
}
`);
  return file;
}

/** `ss serve` of 'line' answering with the client it sees; stopped at teardown. */
function serve(t: Parameters<typeof tempDir>[0], args: string[]): Promise<SsProcess> {
  return startSs(t, ['--plugin', 'line', '--handler', whoHandler(t), ...args]);
}

/** Send `data` on a fresh connection and read one JSON reply line. */
async function ask(port: number, data: Buffer | string): Promise<Record<string, any>> {
  const c = await Client.open(port);
  try {
    c.send(data);
    const [line] = await c.lines(1);
    return JSON.parse(line!) as Record<string, any>;
  } finally {
    c.destroy();
  }
}

/** Send `data` and expect the server to close without a reply. */
async function refused(port: number, data: Buffer | string, timeoutMs = 5000): Promise<void> {
  const c = await Client.open(port);
  if (data.length > 0) c.send(data);
  await c.waitClose(timeoutMs);
  if (c.received.length !== 0) throw new Error(`got a reply: ${c.received.toString('latin1')}`);
}

/** Send `bytes` one at a time, a little apart: separate reads on the server, most of them. */
async function trickle(c: Client, bytes: Buffer): Promise<void> {
  c.socket.setNoDelay(true);
  for (const byte of bytes) {
    c.send(Buffer.from([byte]));
    await sleep(2);
  }
}

const closedLog = (ss: SsProcess, what: RegExp) =>
  ss.waitForLog((l) => l.level === 40 && /^connection from 127\.0\.0\.1:\d+: /.test(l.msg) && what.test(l.msg) && /; closed$/.test(l.msg));

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: v1 and v2 headers give the client's address; the data after them is read`, async (t) => {
    const ss = await serve(t, ['--workers', workers, '--proxy-protocol', 'auto']);
    const v1 = await ask(ss.port, 'PROXY TCP4 198.51.100.20 127.0.0.1 40001 8060\r\nhello\n');
    t.like(v1, { said: 'hello', peer: '198.51.100.20:40001', remoteAddress: '198.51.100.20', remotePort: 40001 });
    t.like(v1.proxy, { address: '127.0.0.1', version: 1, command: 'proxy' });

    const v6 = await ask(ss.port, 'PROXY TCP6 2001:db8::7 ::1 40002 8060\r\nsix\n');
    t.like(v6, { said: 'six', peer: '[2001:db8::7]:40002', remoteAddress: '2001:db8::7' });

    const ssl = tlv(0x20, Buffer.concat([Buffer.from([0x01, 0, 0, 0, 0]), tlv(0x21, 'TLSv1.3'), tlv(0x22, 'client.example')]));
    const tlvs = [tlv(0x01, 'h2'), tlv(0x02, 'api.example'), tlv(0x05, Buffer.from([0xab, 0xcd])), ssl];
    const v2 = await ask(ss.port, Buffer.concat([v2Tcp([203, 0, 113, 9], 51234, [127, 0, 0, 1], 8060, tlvs), Buffer.from('two\n')]));
    t.like(v2, { said: 'two', peer: '203.0.113.9:51234', remotePort: 51234 });
    t.deepEqual(v2.proxy, {
      address: '127.0.0.1', version: 2, command: 'proxy',
      tlvs: { alpn: 'h2', authority: 'api.example', uniqueId: 'abcd', ssl: { client: 1, verified: true, version: 'TLSv1.3', cn: 'client.example' } },
    });

    // LOCAL (a health check from the proxy itself): the real connection's addresses stand.
    const c = await Client.open(ss.port);
    c.send(Buffer.concat([V2_LOCAL, Buffer.from('check\n')]));
    const local = JSON.parse((await c.lines(1))[0]!) as Record<string, any>;
    t.like(local, { said: 'check', peer: `127.0.0.1:${c.localPort}`, remoteAddress: '127.0.0.1' });
    t.like(local.proxy, { command: 'local', version: 2 });
    c.destroy();
  });
}

test('a header arriving byte by byte, with data in the same read as its last byte', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'v1']);
  const c = await Client.open(ss.port);
  await trickle(c, Buffer.from('PROXY TCP4 192.0.2.44 127.0.0.1 1234 8060\r'));
  c.send('\nfirst\nsecond\n');
  const lines = (await c.lines(2)).map((l) => JSON.parse(l) as Record<string, any>);
  t.deepEqual(lines.map((l) => [l.said, l.peer]), [['first', '192.0.2.44:1234'], ['second', '192.0.2.44:1234']]);
  c.destroy();
});

for (const workers of ['0', '2']) {
  test(`--workers ${workers}: a missing, malformed, wrong-version or slow header closes that connection; others are served`, async (t) => {
    const ss = await serve(t, ['--workers', workers, '--proxy-protocol', 'v2', '--proxy-header-timeout', '0.5']);
    await refused(ss.port, 'hello\n');
    await closedLog(ss, /no PROXY v2 header/);
    await refused(ss.port, 'PROXY TCP4 198.51.100.20 127.0.0.1 40001 8060\r\nhello\n'); // v1 while v2 is required
    const bad = v2Tcp([1, 2, 3, 4], 1, [5, 6, 7, 8], 2);
    bad[12] = 0x23; // command 3
    await refused(ss.port, bad);
    await closedLog(ss, /command 3/);
    const crc = v2Tcp([1, 2, 3, 4], 1, [5, 6, 7, 8], 2, [tlv(0x03, Buffer.from([1, 2, 3, 4]))]);
    await refused(ss.port, crc);
    await closedLog(ss, /CRC32C does not match/);
    const started = Date.now();
    await refused(ss.port, v2Tcp([1, 2, 3, 4], 1, [5, 6, 7, 8], 2).subarray(0, 20)); // stops mid-header
    t.true(Date.now() - started >= 400, 'closed at the header timeout, not before');
    await closedLog(ss, /no complete PROXY header within 0\.5s/);
    await refused(ss.port, ''); // says nothing at all
    const ok = await ask(ss.port, Buffer.concat([v2Tcp([192, 0, 2, 1], 7, [127, 0, 0, 1], 8060), Buffer.from('still\n')]));
    t.like(ok, { said: 'still', peer: '192.0.2.1:7' });
  });
}

/** A full IPv6 address in its longest text: with two, "PROXY UNKNOWN" makes the longest v1 line the spec allows, 107 bytes. */
const FULL6 = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
const LONGEST_V1 = `PROXY UNKNOWN ${FULL6} ${FULL6} 65535 65535\r\n`;

/** `header` with byte `at` set to `value`. */
function withByte(header: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(header);
  copy[at] = value;
  return copy;
}

/** A well-formed v2 header, with these TLVs. */
const anyV2 = (tlvs: Buffer[] = []): Buffer => v2Tcp([192, 0, 2, 1], 1234, [127, 0, 0, 1], 8060, tlvs);

/** The malformed headers of the spec, each with the reason ss gives for closing the connection that sent it. */
const MALFORMED: { what: string; header: Buffer | string; reason: string }[] = [
  { what: 'v1 line of 108 bytes', header: LONGEST_V1.replace(' 65535\r\n', ' 655350\r\n'), reason: 'PROXY v1 line has no CRLF within 107 bytes' },
  { what: 'v1 line ending in LF', header: 'PROXY TCP4 192.0.2.1 127.0.0.1 1234 8060\nhi\n', reason: 'PROXY v1 line ends in LF without CR' },
  { what: 'v1 port with a leading zero', header: 'PROXY TCP4 192.0.2.1 127.0.0.1 01234 8060\r\n', reason: 'PROXY v1 source port "01234" is not 0..65535 without leading zeroes' },
  { what: 'v1 TCP4 with an IPv6 address', header: 'PROXY TCP4 2001:db8::1 127.0.0.1 1234 8060\r\n', reason: 'PROXY v1 source "2001:db8::1" is not an IPv4 address' },
  { what: 'v1 TCP6 with an IPv4 address', header: 'PROXY TCP6 2001:db8::1 127.0.0.1 1234 8060\r\n', reason: 'PROXY v1 destination "127.0.0.1" is not an IPv6 address' },
  { what: 'v2 version 1', header: withByte(anyV2(), 12, 0x11), reason: 'PROXY v2 header has version 1, not 2' },
  { what: 'v2 family 4', header: withByte(anyV2(), 13, 0x41), reason: 'PROXY v2 address family 4 is not UNSPEC, INET, INET6 or UNIX' },
  { what: 'v2 TLV cut in its type and length', header: anyV2([Buffer.from([0x01, 0x00])]), reason: 'PROXY v2 TLV is truncated (fewer than 3 bytes left)' },
  { what: 'v2 TLV longer than the header', header: anyV2([Buffer.from([0x02, 0x00, 0x10, 0x61, 0x62])]), reason: 'PROXY v2 TLV 0x2 is longer (16) than the header has left' },
];

test('each malformed header of the spec closes its connection with the line saying what is wrong; the longest v1 line passes', async (t) => {
  // Fewer cases than the 10 connection lines a second a process writes: none is left out of the log.
  t.is(LONGEST_V1.length, 107);
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'auto']);
  for (const { what, header, reason } of MALFORMED) {
    const c = await Client.open(ss.port);
    c.send(header);
    await c.waitClose().catch((err: Error) => { throw new Error(`${what}: ${err.message}`); });
    t.is(c.received.length, 0, `${what}: closed without a reply`);
    const line = await ss.waitForLog((l) => l.msg.startsWith(`connection from 127.0.0.1:${c.localPort}: `));
    t.is(line.msg, `connection from 127.0.0.1:${c.localPort}: ${reason}; closed`, what);
    t.is(line.level, 40, what);
  }
  t.like(await ask(ss.port, `${LONGEST_V1}longest\n`), { said: 'longest', remoteAddress: '127.0.0.1' }, 'a v1 line of 107 bytes');
});

test('a v2 header arriving byte by byte, with data in the same read as its last byte', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'v2']);
  const header = v2Tcp([198, 51, 100, 7], 40007, [127, 0, 0, 1], 8060, [tlv(0x02, 'api.example'), tlv(0x05, Buffer.from([1, 2]))]);
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  await trickle(c, header.subarray(0, -1));
  c.send(Buffer.concat([header.subarray(-1), Buffer.from('split\n')]));
  const reply = JSON.parse((await c.lines(1))[0]!) as Record<string, any>;
  t.like(reply, { said: 'split', peer: '198.51.100.7:40007' });
  t.like(reply.proxy.tlvs, { authority: 'api.example', uniqueId: '0102' });
});

test('over IPv6: ss on [::1] reads a v2 header from a proxy at ::1; the handler sees the header\'s IPv6 client', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'v2', '--bind', '[::1]:0']).catch((err: Error) => {
    throw new Error(`ss cannot listen on [::1]; this test needs the IPv6 loopback address: ${err.message}`);
  });
  const c = await Client.open({ host: '::1', port: ss.port });
  t.teardown(() => c.destroy());
  const client = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]; // 2001:db8::7
  const loopback = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // ::1
  c.send(Buffer.concat([v2Tcp(client, 40002, loopback, ss.port), Buffer.from('six\n')]));
  const reply = JSON.parse((await c.lines(1))[0]!) as Record<string, any>;
  t.like(reply, { said: 'six', peer: '[2001:db8::7]:40002', remoteAddress: '2001:db8::7', remotePort: 40002 });
  t.like(reply.proxy, { address: '::1', version: 2, command: 'proxy' });
});

test('a peer not in --proxy-allow-from is closed; an allowed one is served', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'v1', '--proxy-allow-from', '127.0.0.9,10.0.0.0/8']);
  const header = 'PROXY TCP4 198.51.100.1 127.0.0.1 1 2\r\nhi\n';
  await refused(ss.port, header);
  await closedLog(ss, /not in proxy_allow_from/);
  // From 127.0.0.9 (all of 127/8 is loopback on Linux): allowed.
  const socket = connect({ host: '127.0.0.1', port: ss.port, localAddress: '127.0.0.9' });
  t.teardown(() => socket.destroy());
  const reply = await new Promise<string>((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('\n')) resolve(got); });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed; got ${JSON.stringify(got)}`)));
    socket.write(header);
  });
  t.like(JSON.parse(reply) as Record<string, any>, { said: 'hi', peer: '198.51.100.1:1', proxy: { address: '127.0.0.9' } });
});

test('--proxy-allow-from * allows any peer; off (the default) reads no header', async (t) => {
  const any = await serve(t, ['--workers', '0', '--proxy-protocol', 'v1', '--proxy-allow-from', '*']);
  t.like(await ask(any.port, 'PROXY UNKNOWN\r\nu\n'), { said: 'u', remoteAddress: '127.0.0.1' });
  const off = await serve(t, ['--workers', '0']);
  const plain = await ask(off.port, 'PROXY TCP4 198.51.100.1 127.0.0.1 1 2\r\n');
  t.regex(plain.said, /^PROXY TCP4 198\.51\.100\.1 /, 'with the protocol off a header is only data: never guessed');
  t.like(plain, { remoteAddress: '127.0.0.1' });
  t.is(plain.proxy, undefined);
});

test('a bad --proxy-allow-from entry is a usage error naming the setting', async (t) => {
  for (const bad of ['10.0.0.300', '10.0.0.0/33', 'localhost', '127.0.0.1,,::1']) {
    const r = await runSs(['serve', '--bind', '127.0.0.1:0', '--proxy-protocol', 'v1', '--proxy-allow-from', bad]);
    t.is(r.code, 2, bad);
    const lines = r.stderr.trim().split('\n');
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0]!, /^ss: invalid --proxy-allow-from ".*": .*expected \*, an IP address or a CIDR/);
  }
  const env = await runSs(['serve', '--bind', '127.0.0.1:0'], { env: { SS_PROXY_ALLOW_FROM: '::1,nope' } });
  t.is(env.code, 2);
  t.regex(env.stderr, /^ss: invalid SS_PROXY_ALLOW_FROM "::1,nope"/);
});

test('a real HAProxy in front (send-proxy-v2 with CRC32C and a unique id, and send-proxy): the client is the one HAProxy saw', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'auto']);
  const dir = tempDir(t, 'haproxy');
  const [v2Port, v1Port] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'haproxy.cfg'), `
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend v2
  bind 127.0.0.1:${v2Port}
  unique-id-format req-42
  default_backend v2
backend v2
  server ss 127.0.0.1:${ss.port} send-proxy-v2 proxy-v2-options crc32c,unique-id
frontend v1
  bind 127.0.0.1:${v1Port}
  default_backend v1
backend v1
  server ss 127.0.0.1:${ss.port} send-proxy
`);
  // CI installs haproxy (.ci/run); -db keeps it in the foreground, so its pid is the one to stop.
  const haproxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  haproxy.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<void>((resolve) => haproxy.once('exit', () => resolve()));
  t.teardown(async () => {
    if (haproxy.exitCode === null && haproxy.signalCode === null) process.kill(haproxy.pid!, 'SIGTERM');
    await exited;
  });
  const open = async (port: number) => {
    const started = Date.now();
    for (;;) {
      try {
        return await Client.open(port);
      } catch (err) {
        if (Date.now() - started > 10_000) throw new Error(`haproxy does not listen: ${(err as Error).message}; stderr: ${stderr}`);
        await sleep(100);
      }
    }
  };
  for (const [port, version] of [[v2Port, 2], [v1Port, 1]] as const) {
    const c = await open(port);
    c.send('via haproxy\n');
    const reply = JSON.parse((await c.lines(1, 10_000))[0]!) as Record<string, any>;
    t.like(reply, { said: 'via haproxy', peer: `127.0.0.1:${c.localPort}` }, `v${version}`);
    t.like(reply.proxy, { address: '127.0.0.1', version, command: 'proxy' });
    if (version === 2) t.is(reply.proxy.tlvs.uniqueId, Buffer.from('req-42').toString('hex'));
    c.destroy();
  }
});

test('a connection still sending its PROXY header when TERM comes is served once, then the server exits 0', async (t) => {
  const ss = await serve(t, ['--workers', '0', '--proxy-protocol', 'v1']);
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  await sleep(200); // accepted, waiting for its header
  process.kill(ss.pid, 'SIGTERM');
  await ss.waitForLog((l) => /^stopping/.test(l.msg));
  c.send('PROXY TCP4 192.0.2.9 127.0.0.1 4321 8060\r\nlast\n');
  const [line] = await c.lines(1);
  t.deepEqual(JSON.parse(line!).peer, '192.0.2.9:4321');
  await c.waitClose(5000);
  t.is((await ss.exited).code, 0);
});
