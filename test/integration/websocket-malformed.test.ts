import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { OP, acceptFor, closeCode, closePayload, frame, handshake, readFrame, upgradeHeaders, upgradeRequest } from '../helpers/websocket.js';

// What a stock client never sends, by hand over a raw socket: each malformed frame closes that
// connection only, after a close frame with its code; each bad handshake gets its HTTP error.

const CHAT = join(FIXTURES, 'runtime', 'ws-chat.mjs');

let ss: SsProcess;
test.before(async () => {
  ss = await startSs(['--plugin', 'websocket', '--workers', '1', '--handler', CHAT, '--ws-max-message', '1kb',
    '--ws-path', '/chat', '--ws-origins', 'https://good.example,http://localhost:8080', '--ws-max-header', '1kb']);
});
test.after.always(async () => { await ss?.stop(); });

/** A process logs at most 10 lines a second about single connections: the cases that read one are spaced out. */
const LOG_SPACING = 110;

/** An open connection, its handshake done by hand. */
async function open(): Promise<Client> {
  const a = await handshake(ss.port, upgradeRequest('GET /chat HTTP/1.1'));
  if (!a.status.startsWith('HTTP/1.1 101 ')) throw new Error(`not upgraded: ${a.status}`);
  return a.client;
}

/** Send `frames`, then expect a close frame with `code` and the connection closed, with a log line saying `reason`. */
async function refused(t: import('ava').ExecutionContext, frames: Buffer[], code: number, reason: RegExp): Promise<void> {
  await sleep(LOG_SPACING);
  const bystander = await open();
  const c = await open();
  for (const f of frames) c.send(f);
  const close = await readFrame(c);
  t.is(closeCode(close), code);
  await c.until(() => c.closed, 'close', 10_000);
  const line = await ss.waitForLog((l) => l.level === 40 && reason.test(l.msg) && l.peer === `127.0.0.1:${c.localPort}`, 10_000);
  t.regex(line.msg, new RegExp(`^connection \\d+ \\(127\\.0\\.0\\.1:\\d+\\): bad input: websocket: .*\\(close ${code}\\); closed$`));
  // Another connection is served on.
  bystander.send(frame(OP.text, 'still here'));
  const echo = await readFrame(bystander);
  t.is(echo.payload.toString(), 'still here');
  bystander.destroy();
}

const cases: [string, () => Buffer[], number, RegExp][] = [
  ['an unmasked frame', () => [frame(OP.text, 'hi', { mask: false })], 1002, /a client frame not masked/],
  ['a reserved bit (RSV1)', () => [frame(OP.text, 'hi', { rsv: 4 })], 1002, /reserved bits set/],
  ['a reserved bit (RSV3)', () => [frame(OP.binary, 'hi', { rsv: 1 })], 1002, /reserved bits set/],
  ['a reserved data opcode', () => [frame(3, 'hi')], 1002, /reserved opcode 3/],
  ['a reserved control opcode', () => [frame(0xb, 'hi')], 1002, /reserved opcode 11/],
  ['a ping over 125 bytes', () => [frame(OP.ping, Buffer.alloc(126))], 1002, /control frame over 125 bytes/],
  ['a fragmented ping', () => [frame(OP.ping, 'x', { fin: false })], 1002, /fragmented control frame/],
  ['a continuation with no message begun', () => [frame(OP.continuation, 'x')], 1002, /continuation frame outside a message/],
  ['a new message inside a fragmented one', () => [frame(OP.text, 'a', { fin: false }), frame(OP.text, 'b')], 1002, /new message inside a fragmented one/],
  ['a close with a 1-byte payload', () => [frame(OP.close, Buffer.from([3]))], 1002, /close frame with a 1-byte payload/],
  ['a close code never sent on the wire (1005)', () => [frame(OP.close, closePayload(1005))], 1002, /close code 1005/],
  ['a close reason that is not UTF-8', () => [frame(OP.close, Buffer.concat([closePayload(1000), Buffer.from([0xc3, 0x28])]))], 1007, /invalid UTF-8 in a close reason/],
  ['invalid UTF-8 in a text message', () => [frame(OP.text, Buffer.from([0x68, 0xff, 0x69]))], 1007, /invalid UTF-8 in a text message/],
  // "é" is C3 A9: its lead ends the first fragment, and the second goes on with a byte that cannot follow it.
  ['invalid UTF-8 across fragments', () => [frame(OP.text, Buffer.from([0x61, 0xc3]), { fin: false }), frame(OP.continuation, Buffer.from([0x28]))], 1007,
    /invalid UTF-8 in a text message/],
  ['a text message ending inside a character', () => [frame(OP.text, Buffer.from([0x61, 0xe2, 0x82]), { fin: false }), frame(OP.continuation, '')], 1007,
    /invalid UTF-8 in a text message/],
  // Only the header is sent: the length it claims is refused before any payload.
  ['a frame over --ws-max-message', () => [frame(OP.binary, Buffer.alloc(0), { length: 1025 }).subarray(0, 8)], 1009, /message over 1024 bytes \(--ws-max-message\)/],
  ['a 64-bit length beyond any limit', () => [frame(OP.binary, Buffer.alloc(0), { length: 2 ** 31 }).subarray(0, 14)], 1009, /message over 1024 bytes/],
  ['fragments that add up to over --ws-max-message', () => [frame(OP.binary, Buffer.alloc(600), { fin: false }), frame(OP.continuation, Buffer.alloc(600))], 1009,
    /message over 1024 bytes/],
];

for (const [name, frames, code, reason] of cases) {
  test.serial(`${name}: closed with ${code} and a log line; other connections are served`, async (t) => {
    await refused(t, frames(), code, reason);
  });
}

test.serial('a message of exactly --ws-max-message is accepted, in fragments too; a character split across fragments is fine', async (t) => {
  const c = await open();
  c.send(frame(OP.binary, Buffer.alloc(1024, 7)));
  t.deepEqual((await readFrame(c)).payload, Buffer.alloc(1024, 7));
  // "é€" in four fragments cut inside both characters, a ping between two of them.
  const text = Buffer.from('é€');
  c.send(Buffer.concat([frame(OP.text, text.subarray(0, 1), { fin: false }), frame(OP.continuation, text.subarray(1, 3), { fin: false }),
    frame(OP.ping, 'between'), frame(OP.continuation, text.subarray(3, 4), { fin: false }), frame(OP.continuation, text.subarray(4))]));
  const pong = await readFrame(c);
  t.is(pong.opcode, OP.pong);
  t.is(pong.payload.toString(), 'between');
  const echo = await readFrame(c);
  t.is(echo.opcode, OP.text);
  t.is(echo.payload.toString(), 'é€');
  c.destroy();
});

test.serial('the close handshake: the client\'s code is echoed, then the server closes the connection', async (t) => {
  for (const [payload, echoed] of [[closePayload(4001, 'bye'), 4001], [closePayload(1000), 1000], [Buffer.alloc(0), undefined]] as const) {
    const c = await open();
    c.send(frame(OP.text, 'before'));
    c.send(frame(OP.close, payload));
    t.is((await readFrame(c)).payload.toString(), 'before', 'a reply owed goes out before the close');
    t.is(closeCode(await readFrame(c)), echoed);
    await c.until(() => c.closed, 'close', 10_000);
  }
});

test.serial('frames sent with the handshake, in the same write, are read after it', async (t) => {
  const a = await handshake(ss.port, upgradeRequest('GET /chat HTTP/1.1'), Buffer.concat([frame(OP.text, 'eager'), frame(OP.binary, Buffer.from([1, 2]))]));
  t.regex(a.status, /^HTTP\/1\.1 101 /);
  t.is((await readFrame(a.client)).payload.toString(), 'eager');
  t.deepEqual((await readFrame(a.client)).payload, Buffer.from([1, 2]));
  a.client.destroy();
});

test.serial('a valid handshake: 101 with the accept for its key; Connection is a token list, names and values in any case', async (t) => {
  const headers = upgradeHeaders({ Connection: 'keep-alive, UPGRADE', Upgrade: 'WebSocket' });
  const request = `GET /chat?room=1 HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k.toLowerCase()}: ${v}\r\n`).join('')}\r\n`;
  const a = await handshake(ss.port, request);
  t.is(a.status, 'HTTP/1.1 101 Switching Protocols');
  t.is(a.headers['sec-websocket-accept'], acceptFor(headers['Sec-WebSocket-Key']!));
  t.is(a.headers.upgrade, 'websocket');
  t.is(a.headers.connection, 'Upgrade');
  t.false('sec-websocket-protocol' in a.headers);
  a.client.destroy();
});

const refusals: [string, () => string, RegExp, RegExp][] = [
  ['another path', () => upgradeRequest('GET /other HTTP/1.1'), /^HTTP\/1\.1 404 Not Found$/, /no WebSocket at \/other \(--ws-path is \/chat\)/],
  ['a POST', () => upgradeRequest('POST /chat HTTP/1.1'), /^HTTP\/1\.1 405 Method Not Allowed$/, /method POST/],
  ['HTTP/1.0', () => upgradeRequest('GET /chat HTTP/1.0'), /^HTTP\/1\.1 400 Bad Request$/, /HTTP\/1\.0/],
  ['a plain GET (no Upgrade)', () => upgradeRequest('GET /chat HTTP/1.1', { Upgrade: undefined, Connection: undefined }), /^HTTP\/1\.1 400 Bad Request$/, /no "Upgrade: websocket"/],
  ['no Connection: Upgrade', () => upgradeRequest('GET /chat HTTP/1.1', { Connection: 'keep-alive' }), /^HTTP\/1\.1 400 /, /no "Connection: Upgrade"/],
  ['no Host', () => upgradeRequest('GET /chat HTTP/1.1', { Host: undefined }), /^HTTP\/1\.1 400 /, /no Host header/],
  ['a bad key', () => upgradeRequest('GET /chat HTTP/1.1', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }), /^HTTP\/1\.1 400 /, /not 16 bytes in base64/],
  ['no key', () => upgradeRequest('GET /chat HTTP/1.1', { 'Sec-WebSocket-Key': undefined }), /^HTTP\/1\.1 400 /, /no Sec-WebSocket-Key/],
  ['version 8', () => upgradeRequest('GET /chat HTTP/1.1', { 'Sec-WebSocket-Version': '8' }), /^HTTP\/1\.1 426 Upgrade Required$/, /Sec-WebSocket-Version 8/],
  ['no version', () => upgradeRequest('GET /chat HTTP/1.1', { 'Sec-WebSocket-Version': undefined }), /^HTTP\/1\.1 426 Upgrade Required$/, /no Sec-WebSocket-Version/],
  ['an origin not allowed', () => upgradeRequest('GET /chat HTTP/1.1', { Origin: 'https://evil.example' }), /^HTTP\/1\.1 403 Forbidden$/,
    /origin https:\/\/evil\.example is not in --ws-origins/],
  ['a malformed request line', () => 'GET  /chat HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /, /malformed request line/],
  ['a header line without a colon', () => `${upgradeRequest('GET /chat HTTP/1.1').slice(0, -2)}oops\r\n\r\n`, /^HTTP\/1\.1 400 /, /malformed header line/],
  ['a handshake over --ws-max-header', () => upgradeRequest('GET /chat HTTP/1.1', { Cookie: 'x'.repeat(1100) }), /^HTTP\/1\.1 431 /, /handshake over 1024 bytes \(--ws-max-header\)/],
];

for (const [name, request, status, reason] of refusals) {
  test.serial(`${name}: a plain HTTP error, then the connection is closed, with a log line`, async (t) => {
    await sleep(LOG_SPACING);
    const a = await handshake(ss.port, request());
    t.regex(a.status, status);
    t.is(a.headers.connection, 'close');
    t.regex(a.body, reason, 'the body says why');
    if (a.status.includes(' 426 ')) t.is(a.headers['sec-websocket-version'], '13');
    if (a.status.includes(' 405 ')) t.is(a.headers.allow, 'GET');
    t.true(a.client.closed);
    const line = await ss.waitForLog((l) => l.level === 40 && reason.test(l.msg) && l.peer === `127.0.0.1:${a.client.localPort}`, 10_000);
    t.regex(line.msg, /bad input: websocket: handshake refused with \d{3} /);
  });
}

test.serial('allowed origins are matched without case; a client that sends no Origin is not checked', async (t) => {
  for (const origin of ['https://GOOD.example', 'http://localhost:8080', undefined]) {
    const a = await handshake(ss.port, upgradeRequest('GET /chat HTTP/1.1', { Origin: origin }));
    t.regex(a.status, /^HTTP\/1\.1 101 /, String(origin));
    a.client.destroy();
  }
});

test('a handshake not whole within --ws-handshake-timeout is answered 408 and closed; so is a connection that says nothing', async (t) => {
  const quick = await startSs(t, ['--plugin', 'websocket', '--workers', '0', '--ws-handshake-timeout', '0.5', '--keep-alive', '0', '--frame-timeout', '0']);
  const slow = await Client.open(quick.port);
  const silent = await Client.open(quick.port);
  slow.send('GET / HTTP/1.1\r\nHost: x\r\n');
  for (const c of [slow, silent]) {
    await c.until(() => c.closed, 'close', 10_000);
    t.regex(c.received.toString(), /^HTTP\/1\.1 408 Request Timeout\r\n[^]*no complete handshake within 0\.5s \(--ws-handshake-timeout\)\n$/);
  }
  await quick.waitForLog((l) => /timed out: websocket: handshake refused with 408/.test(l.msg));
});

test('a subscriber that answers no ping is closed by keep_alive; one that answers stays', async (t) => {
  const s = await startSs(t, ['--plugin', 'websocket', '--workers', '0', '--handler', CHAT, '--ws-ping-interval', '200ms', '--keep-alive', '1.5',
    '--log-level', 'debug']);
  const [mute, polite] = await Promise.all([handshake(s.port), handshake(s.port)]);
  for (const c of [mute.client, polite.client]) {
    c.send(frame(OP.text, JSON.stringify({ join: 'news' })));
    t.is((await readFrame(c)).payload.toString(), '{"joined":"news"}');
  }
  // The polite one answers each ping it gets; the mute one reads them and says nothing.
  let pings = 0;
  const answering = (async () => {
    while (!polite.client.closed && pings < 20) {
      const f = await readFrame(polite.client, 10_000).catch(() => undefined);
      if (f === undefined) return;
      if (f.opcode === OP.ping) {
        pings++;
        polite.client.send(frame(OP.pong, f.payload));
      }
    }
  })();
  await mute.client.until(() => mute.client.closed, 'close', 10_000);
  const ping = await readFrame(mute.client);
  t.is(ping.opcode, OP.ping, 'it was pinged before it was closed');
  await s.waitForLog((l) => /idle for 1\.5s, a ping unanswered; closed/.test(l.msg) && l.peer === `127.0.0.1:${mute.client.localPort}`);
  await sleep(1000);
  t.false(polite.client.closed, 'the one that answers is kept past keep_alive');
  t.true(pings >= 3);
  polite.client.destroy();
  await answering;
});
