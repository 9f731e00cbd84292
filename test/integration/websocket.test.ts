import test from 'ava';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createClient } from '@socketserver/core';
import { assertOneLineError } from '../helpers/assert.js';
import { certsForFile, read } from '../helpers/certs.js';
import { REPO, runSs, startSs } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { ask, closed, handshake, nextMessage, openWs, upgradeRequest } from '../helpers/websocket.js';

// `ss serve --plugin websocket` with `ws`, a stock WebSocket client, and with ss's own client side.
// One server at a time (serial): each test starts its own.

const CHAT = join(FIXTURES, 'runtime', 'ws-chat.mjs');
const certs = certsForFile(test);

test.serial('echo: text comes back as text, binary as binary, of every length form; a fragmented message whole; ping gets pong', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1']);
  const ws = await openWs(`ws://127.0.0.1:${ss.port}/`);
  t.deepEqual(await ask(ws, 'hello, wörld'), { data: Buffer.from('hello, wörld'), binary: false });
  t.deepEqual(await ask(ws, ''), { data: Buffer.alloc(0), binary: false });
  for (const n of [0, 125, 126, 65_535, 65_536, 200_000]) {
    const data = Buffer.alloc(n, n % 251);
    t.deepEqual(await ask(ws, data), { data, binary: true }, `${n} bytes`);
  }
  // Three frames, one message: ws sends each send({ fin: false }) as a fragment.
  const whole = nextMessage(ws);
  ws.send('one ', { fin: false });
  ws.send('two ', { fin: false });
  ws.send('three', { fin: true });
  t.deepEqual(await whole, { data: Buffer.from('one two three'), binary: false });
  const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
  ws.ping('are you there');
  t.is(String(await pong), 'are you there');
  // Many messages in flight at once come back in order.
  const got: string[] = [];
  const all = new Promise<void>((resolve) => ws.on('message', (m) => { if (got.push(String(m)) === 100) resolve(); }));
  for (let i = 0; i < 100; i++) ws.send(`m${i}`);
  await all;
  t.deepEqual(got, Array.from({ length: 100 }, (_, i) => `m${i}`));
  ws.close();
});

test.serial('the close handshake with a stock client: its code is echoed; a stop closes with 1001; a failed handler with 1011', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--handler', CHAT]);
  const url = `ws://127.0.0.1:${ss.port}/`;
  for (const [code, reason] of [[1000, 'done'], [4000, 'app-defined'], [3001, '']] as const) {
    const ws = await openWs(url);
    const end = closed(ws);
    ws.close(code, reason);
    t.is((await end).code, code);
  }
  const failing = await openWs(url);
  const failed = closed(failing);
  failing.send('boom');
  t.deepEqual(await failed, { code: 1011, reason: 'server error' });
  await ss.waitForLog((l) => /handler failed: boom; closed/.test(l.msg));
  const open = await openWs(url);
  const stopped = closed(open);
  await ss.stop();
  t.deepEqual(await stopped, { code: 1001, reason: 'server stopping' });
});

test.serial('subprotocols: the first the client offers that --ws-protocols lists is chosen; none in common, none is named', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--ws-protocols', 'chat.v2,chat.v1']);
  const url = `ws://127.0.0.1:${ss.port}/`;
  const a = await openWs(url, ['chat.v1', 'chat.v2']);
  t.is(a.protocol, 'chat.v1', 'the client\'s order decides');
  a.close();
  const b = await openWs(url);
  t.is(b.protocol, '', 'a client that offers none gets none');
  b.close();
  // ws, as a browser does, fails a connection whose server named none of those it asked for.
  await t.throwsAsync(openWs(url, ['other']), { message: /Server sent no subprotocol/ });
  const raw = await handshake(ss.port, upgradeRequest('GET / HTTP/1.1', { 'Sec-WebSocket-Protocol': 'other, more' }));
  t.regex(raw.status, /^HTTP\/1\.1 101 /);
  t.false('sec-websocket-protocol' in raw.headers);
  raw.client.destroy();
});

test.serial('server pings: a silent client is pinged every --ws-ping-interval, and by answering stays open past keep_alive', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--ws-ping-interval', '300ms', '--keep-alive', '1']);
  const ws = await openWs(`ws://127.0.0.1:${ss.port}/`);
  let pings = 0;
  ws.on('ping', () => pings++);
  await sleep(2500);
  t.true(pings >= 3, `${pings} pings`);
  t.is(ws.readyState, WebSocket.OPEN, 'ws answers each ping with a pong, which keep_alive counts');
  t.deepEqual(await ask(ws, 'still'), { data: Buffer.from('still'), binary: false });
  ws.close();
});

test.serial('no pings with --ws-ping-interval 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '0', '--ws-ping-interval', '0', '--keep-alive', '0']);
  const ws = await openWs(`ws://127.0.0.1:${ss.port}/`);
  let pings = 0;
  ws.on('ping', () => pings++);
  await sleep(1500);
  t.is(pings, 0);
  ws.close();
});

/** A JSON command and its JSON answer. */
async function command(ws: WebSocket, body: object): Promise<Record<string, unknown>> {
  const reply = await ask(ws, JSON.stringify(body));
  return JSON.parse(String(reply.data)) as Record<string, unknown>;
}

test.serial('--workers 2: a page subscribed through the handler gets what any client publishes, as a text message, from either worker', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '2', '--balance', 'round-robin', '--handler', CHAT]);
  const url = `ws://127.0.0.1:${ss.port}/`;
  // A client on each worker (connections go round-robin).
  const byPid = new Map<number, WebSocket>();
  for (let i = 0; i < 20 && byPid.size < 2; i++) {
    const ws = await openWs(url);
    const pid = (await command(ws, { pid: true })).pid as number;
    if (byPid.has(pid)) ws.close();
    else byPid.set(pid, ws);
  }
  t.is(byPid.size, 2);
  const [reader, writer] = [...byPid.values()] as [WebSocket, WebSocket];
  t.deepEqual(await command(reader, { join: 'lobby' }), { joined: 'lobby' });
  // The subscription reaches the other worker through the arbiter: publish until it counts.
  const first = nextMessage(reader, 20_000);
  let sent = 0;
  for (let i = 0; i < 100 && sent === 0; i++) {
    sent = (await command(writer, { say: 'lobby', text: `try ${i}` })).sent as number;
    if (sent === 0) await sleep(50);
  }
  t.is(sent, 1);
  const message = await first;
  t.false(message.binary);
  t.regex(String(message.data), /^\{"room":"lobby","text":"try \d+"\}$/);
  const next = nextMessage(reader);
  t.deepEqual(await command(writer, { say: 'lobby', text: 'héllo' }), { sent: 1 });
  t.deepEqual(await next, { data: Buffer.from('{"room":"lobby","text":"héllo"}'), binary: false });
  reader.close();
  writer.close();
});

test.serial('wss://: the TLS settings serve WebSocket over TLS to a stock client', async (t) => {
  const c = certs();
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--certfile', c.serverCert, '--keyfile', c.serverKey]);
  const ws = await openWs(`wss://localhost:${ss.port}/`, undefined, { ca: read(c.ca) });
  t.deepEqual(await ask(ws, 'secret'), { data: Buffer.from('secret'), binary: false });
  t.deepEqual(await ask(ws, Buffer.alloc(100_000, 9)), { data: Buffer.alloc(100_000, 9), binary: true });
  const end = closed(ws);
  ws.close(1000);
  t.is((await end).code, 1000);
  await t.throwsAsync(openWs(`ws://127.0.0.1:${ss.port}/`), undefined, 'plain ws:// to a TLS server does not open');
});

test.serial('createClient({ plugin: "websocket" }) and ss send --plugin websocket speak the client side', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--ws-path', '/app', '--ws-protocols', 'p1']);
  const client = await createClient<string | Uint8Array, string | Buffer>({
    plugin: 'websocket', address: `127.0.0.1:${ss.port}`, cwd: REPO, settings: { wsPath: '/app', wsProtocols: ['p1'] },
  });
  t.is(await client.request('text'), 'text');
  t.deepEqual(await client.request(Buffer.from([0, 1, 2])), Buffer.from([0, 1, 2]));
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request(`n${i}`)));
  t.deepEqual(many, Array.from({ length: 50 }, (_, i) => `n${i}`));
  await client.close();
  await t.throwsAsync(createClient({ plugin: 'websocket', address: `127.0.0.1:${ss.port}`, cwd: REPO }),
    { message: /^cannot connect to 127\.0\.0\.1:\d+: websocket: the server answered 404 Not Found$/ });
  const sent = await runSs(['send', '--plugin', 'websocket', '--ws-path', '/app', '--bind', `127.0.0.1:${ss.port}`, 'a', 'b', 'é']);
  t.is(sent.code, 0, sent.stderr);
  t.is(sent.stdout, 'a\nb\né\n');
  // The client's close frame is answered: the server logs no failure but the refused path's.
  await sleep(300);
  const warnings = ss.logs.filter((l) => l.level >= 40).map((l) => l.msg);
  t.is(warnings.length, 1, warnings.join('\n'));
  t.regex(warnings[0]!, /handshake refused with 404 Not Found: no WebSocket at \/ \(--ws-path is \/app\)/);
});

test.serial('bad websocket settings exit 2 with one line naming the setting; its flags need the plugin', async (t) => {
  const cases: [string[], string[]][] = [
    [['--ws-path', 'chat'], ['invalid --ws-path "chat"', 'beginning with /']],
    [['--ws-protocols', 'a b'], ['invalid --ws-protocols', 'subprotocol name']],
    [['--ws-origins', 'example.com'], ['invalid --ws-origins', 'an origin such as https://example.com']],
    [['--ws-ping-interval', '-1'], ['invalid --ws-ping-interval']],
    [['--ws-max-message', '0'], ['invalid --ws-max-message']],
  ];
  for (const [args, mentions] of cases) assertOneLineError(t, await runSs(['serve', '--plugin', 'websocket', ...args]), 2, mentions);
  assertOneLineError(t, await runSs(['serve', '--plugin', 'line', '--ws-path', '/x']), 2, ['unknown option --ws-path', 'add --plugin websocket']);
});

test.serial('a handler reads the handshake: path, query, headers, origin and the subprotocol chosen', async (t) => {
  const ss = await startSs(t, ['--plugin', 'websocket', '--workers', '1', '--ws-path', '/live', '--ws-protocols', 'feed.v1',
    '--handler', join(FIXTURES, 'runtime', 'ws-handshake.mjs')]);
  const ws = await openWs(`ws://127.0.0.1:${ss.port}/live?room=lobby&token=a%20b`, ['feed.v1'],
    { origin: 'http://127.0.0.1:9', headers: { 'X-Custom': 'yes' } });
  const reply = await ask(ws, 'who am I');
  t.deepEqual(JSON.parse(reply.data.toString()),
    { path: '/live', room: 'lobby', token: 'a b', origin: 'http://127.0.0.1:9', protocol: 'feed.v1', custom: 'yes' });
  ws.close();
});

