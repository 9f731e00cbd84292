import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { CHROMIUM, Chromium, type Page } from '../helpers/chromium.js';
import { certsForFile, read } from '../helpers/certs.js';
import { Client } from '../helpers/client.js';
import { freePort } from '../helpers/free-port.js';
import { servePages } from '../helpers/pages.js';
import { startRedis } from '../helpers/redis-server.js';
import { eventually, launchSs, REPO, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// The browser chat of the docs (docs/examples/browser-chat, docs/guides/websocket.md#in-a-browser)
// in a real browser: headless Chromium loads the example's page from the test's own loopback web
// server, connects to the example's websocket server, joins a room, and shows what a line client
// of the config's other server says there; and what the page says reaches the line client.

const EXAMPLE = join(REPO, 'docs', 'examples', 'browser-chat');
const PAGE = readFileSync(join(EXAMPLE, 'index.html'), 'utf8');
const NOTE = CHROMIUM ? '' : ' (chromium not installed: FAILS)';
const certs = certsForFile(test);

interface Chat {
  ss: SsProcess;
  /** The websocket server's port, and the line server's. */
  web: number;
  lines: number;
  /** A connection to the Redis the two servers share channels through, to look in. */
  redis: Redis;
}

/**
 * The example's config, as it is but for loopback binds on free ports, its handler by path (the
 * config is written elsewhere) and its own redis-server; `websocket` adds to the web server's
 * websocket settings, `web` to its entry (TLS).
 */
async function startChat(t: ExecutionContext, websocket: Record<string, unknown> = {}, web: Record<string, unknown> = {}): Promise<Chat> {
  const redisPort = await freePort();
  const server = await startRedis(redisPort);
  t.teardown(() => server.kill('SIGKILL'));
  const redis = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {}); // redis-server may be killed first at teardown
  await redis.connect();
  t.teardown(() => redis.disconnect());

  const dir = tempDir(t, 'browser-chat');
  const example = pathToFileURL(join(EXAMPLE, 'socketserver.config.mjs')).href;
  writeFileSync(join(dir, 'socketserver.config.mjs'), `import example from ${JSON.stringify(example)};
const { web, lines } = example.servers;
const [[name, settings]] = web.plugins;
export default {
  ...example,
  log_level: 'info',
  handler: ${JSON.stringify(join(EXAMPLE, 'chat.mjs'))},
  pubsub: 'redis://127.0.0.1:${redisPort}',
  servers: {
    web: { ...web, bind: '127.0.0.1:0', plugins: [[name, { ...settings, ...${JSON.stringify(websocket)} }]], ...${JSON.stringify(web)} },
    lines: { ...lines, bind: '127.0.0.1:0' },
  },
};
`);
  const ss = launchSs(t, ['serve'], { cwd: dir });
  await ss.waitForLog((l) => l.msg.startsWith('serving web'), 20_000);
  await ss.waitForLog((l) => l.msg.startsWith('serving lines'), 20_000);
  const port = (name: string) => Number((ss.logs.find((l) => l.name === name && l.msg.startsWith('listening on'))!.address as string).split(':')[1]);
  return { ss, web: port('web'), lines: port('lines'), redis };
}

/** How many workers subscribe to the room in Redis: each server's subscribes once it has a member there. */
async function subscribed(chat: Chat, room: string, workers: number): Promise<void> {
  await eventually(async () => {
    const [, n] = await chat.redis.call('PUBSUB', 'NUMSUB', `ss:${room}`) as [string, number];
    return Number(n) === workers || undefined;
  }, `${workers} worker(s) to subscribe to ${room} in redis`, 20_000);
}

/** The example page, pointed at the chat server `ws`. */
const pageUrl = (base: string, ws: string) => `${base}/chat.html?ws=${encodeURIComponent(ws)}&room=lobby`;

/** One line to the line server, one reply. */
async function ask(c: Client, command: unknown): Promise<unknown> {
  c.send(`${JSON.stringify(command)}\n`);
  const [reply] = await c.lines(1, 10_000);
  return JSON.parse(reply!);
}

/**
 * Both ways through the shared room: a line client's message on the page, then the page's
 * message (typed into its form) at the line client.
 */
async function chatBothWays(t: ExecutionContext, chat: Chat, page: Page): Promise<void> {
  await page.waitForText('#status', /^joined$/, 20_000);
  await subscribed(chat, 'lobby', 1);
  const speaker = await Client.open(chat.lines);
  t.teardown(() => speaker.destroy());
  t.deepEqual(await ask(speaker, { say: 'lobby', text: 'hello from a line client' }), { sent: 0 }, 'no member on the line server: the page is on the other');
  t.is(await page.waitForText('#messages', 'hello from a line client', 20_000), `127.0.0.1:${speaker.localPort}: hello from a line client`);

  t.deepEqual(await ask(speaker, { join: 'lobby' }), { joined: 'lobby' });
  await subscribed(chat, 'lobby', 2);
  await page.evaluate(`document.getElementById('text').value = 'hello from a browser'; document.getElementById('say').requestSubmit()`);
  const [said] = await speaker.lines(1, 20_000);
  t.like(JSON.parse(said!), { room: 'lobby', text: 'hello from a browser' });
  t.regex((JSON.parse(said!) as { from: string }).from, /^127\.0\.0\.1:\d+$/, 'from the page\'s connection');
  await page.waitForText('#messages', 'hello from a browser', 20_000); // its own message, as every member gets it
}

test.serial(`a page joins a room over ws:// and shows what a line client says on the config's other server; what it says reaches the line client${NOTE}`, async (t) => {
  const chat = await startChat(t);
  const base = await servePages(t, { '/chat.html': PAGE });
  const browser = await Chromium.launch(t);
  const page = await browser.open(pageUrl(base, `ws://127.0.0.1:${chat.web}/chat`));
  await chatBothWays(t, chat, page);
});

test.serial(`wss://: a page from an https server joins over TLS (the web server's certfile and keyfile) and chats the same${NOTE}`, async (t) => {
  const c = certs();
  const chat = await startChat(t, {}, { certfile: c.serverCert, keyfile: c.serverKey });
  const base = await servePages(t, { '/chat.html': PAGE }, { key: read(c.serverKey), cert: read(c.serverCert) });
  const browser = await Chromium.launch(t, { ignoreCertificateErrors: true });
  const page = await browser.open(pageUrl(base, `wss://127.0.0.1:${chat.web}/chat`));
  t.is(await page.evaluate('location.protocol'), 'https:');
  await chatBothWays(t, chat, page);
});

test.serial(`--ws-origins: a page whose origin is not allowed sees its connection fail (403 in the server's log); allowed, it joins${NOTE}`, async (t) => {
  const base = await servePages(t, { '/chat.html': PAGE });
  const browser = await Chromium.launch(t);

  const strict = await startChat(t, { wsOrigins: ['https://chat.example'] });
  const refused = await browser.open(pageUrl(base, `ws://127.0.0.1:${strict.web}/chat`));
  t.is(await refused.waitForText('#status', /^closed /, 20_000), 'closed 1006', 'a failed connection, as browsers report one');
  const line = await strict.ss.waitForLog((l) => l.msg.includes(`origin ${base} is not in --ws-origins`), 10_000);
  t.regex(line.msg, /handshake refused with 403 /);

  const open = await startChat(t, { wsOrigins: ['https://chat.example', base] });
  const allowed = await browser.open(pageUrl(base, `ws://127.0.0.1:${open.web}/chat`));
  t.is(await allowed.waitForText('#status', /^(joined|closed .*)$/, 20_000), 'joined');
});
