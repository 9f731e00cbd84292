import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { launchSs, startSs } from '../helpers/ss.js';

test('several binds at once: two TCP ports and a unix socket, port 0 logged as the real port', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ss-binds-')), 's.sock');
  const ss = await startSs(['--plugin', 'line', '-b', '127.0.0.1:0', '--bind', '127.0.0.2:0', '--bind', `unix:${path}`]);
  t.teardown(() => ss.stop());
  t.is(ss.addresses.length, 3);
  t.regex(ss.addresses[0]!, /^127\.0\.0\.1:[1-9]\d*$/);
  t.regex(ss.addresses[1]!, /^127\.0\.0\.2:[1-9]\d*$/);
  t.is(ss.addresses[2], `unix:${path}`);
  const port2 = Number(ss.addresses[1]!.split(':')[1]);
  const clients = await Promise.all([Client.open(ss.port), Client.open({ host: '127.0.0.2', port: port2 }), Client.open(path)]);
  clients.forEach((c, i) => c.send(`via ${i}\n`));
  t.deepEqual(await Promise.all(clients.map(async (c) => (await c.lines(1))[0])), ['via 0', 'via 1', 'via 2']);
  clients.forEach((c) => c.destroy());
});

test('":PORT" listens on all interfaces (reached here over loopback)', async (t) => {
  const ss = await startSs(['--plugin', 'echo', '--bind', ':0']);
  t.teardown(() => ss.stop());
  t.regex(ss.addresses[0]!, /^:[1-9]\d*$/);
  const c = await Client.open(ss.port);
  c.send('any');
  t.is(String(await c.read(3)), 'any');
  c.destroy();
});

test('"[::1]:PORT" listens on the IPv6 loopback', async (t) => {
  const ss = await startSs(['--plugin', 'echo', '--bind', '[::1]:0']);
  t.teardown(() => ss.stop());
  t.regex(ss.addresses[0]!, /^\[::1\]:[1-9]\d*$/);
  const c = await Client.open({ host: '::1', port: ss.port });
  c.send('six');
  t.is(String(await c.read(3)), 'six');
  c.destroy();
});

test('backlog caps the clients served at once: one more is closed at once, and served once a slot frees', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--backlog', '2']);
  t.teardown(() => ss.stop());
  const a = await Client.open(ss.port);
  const b = await Client.open(ss.port);
  a.send('a\n');
  b.send('b\n');
  t.deepEqual([...(await a.lines(1)), ...(await b.lines(1))], ['a', 'b']);
  const refused = await Client.open(ss.port);
  await refused.waitClose();
  const warn = await ss.waitForLog((l) => l.level === 40 && /refused/.test(l.msg));
  t.regex(warn.msg, /connection\(s\) refused: already serving backlog=2 clients/);
  a.destroy();
  await ss.waitForLog(() => true); // let the server see the close
  let served: Client | undefined;
  for (let i = 0; i < 50 && !served; i++) { // the slot frees once the server has seen the close (≤ 5 s)
    const c = await Client.open(ss.port);
    c.send('c\n');
    try {
      await c.lines(1, 100);
      served = c;
    } catch {
      c.destroy();
    }
  }
  t.truthy(served, 'a new client is served once one left');
  served?.destroy();
  b.destroy();
});

test('TERM: an in-flight request is answered, the connection closed, exit 0', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
  t.teardown(() => ss.stop());
  const busy = await Client.open(ss.port);
  const idle = await Client.open(ss.port);
  busy.send('slow:800:finished\n');
  await new Promise((r) => setTimeout(r, 100));
  const exit = ss.stop('SIGTERM');
  t.deepEqual(await busy.lines(1, 5000), ['finished']);
  await busy.waitClose();
  await idle.waitClose();
  t.is((await exit).code, 0);
});

for (const signal of ['SIGINT', 'SIGQUIT'] as const) {
  test(`${signal}: quick stop, exit 0`, async (t) => {
    const ss = await startSs(['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
    t.teardown(() => ss.stop());
    const busy = await Client.open(ss.port);
    busy.send('slow:5000:never\n');
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    t.is((await ss.stop(signal)).code, 0);
    t.true(Date.now() - started < 3000, 'did not wait for the slow request');
    await busy.waitClose();
    t.is(String(busy.received), '');
  });
}

test('TERM: a request still running after --graceful-timeout is cut off; exit 0', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts', '--graceful-timeout', '0.5']);
  t.teardown(() => ss.stop());
  const busy = await Client.open(ss.port);
  busy.send('slow:8000:too late\n');
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  t.is((await ss.stop('SIGTERM')).code, 0);
  const took = Date.now() - started;
  t.true(took >= 400 && took < 5000, `stopped after ${took} ms`);
  await busy.waitClose();
  t.is(String(busy.received), '');
  t.truthy(ss.logs.find((l) => l.level === 40 && /closing 1 connection\(s\) still open after 0\.5s/.test(l.msg)));
});

test('--name names the server in its logs', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--name', 'edge-7']);
  t.teardown(() => ss.stop());
  const serving = ss.logs.find((l) => l.msg.startsWith('serving'))!;
  t.is(serving.msg, `serving edge-7 with 1 worker (arbiter pid ${ss.pid})`);
  t.true(ss.logs.every((l) => l.name === 'edge-7'));
});

test('--log-level debug shows a keep-alive close; --log-level warn hides info lines', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--keep-alive', '0.3', '--log-level', 'debug']);
  t.teardown(() => ss.stop());
  const c = await Client.open(ss.port);
  await c.waitClose();
  const line = await ss.waitForLog((l) => /idle for 0\.3s; closed/.test(l.msg));
  t.is(line.level, 20);

  const path = join(mkdtempSync(join(tmpdir(), 'ss-quiet-')), 'q.sock');
  const quiet = launchSs(['serve', '--plugin', 'line', '--bind', `unix:${path}`, '--log-level', 'warn']);
  t.teardown(() => quiet.stop());
  let client: Client | undefined;
  for (let i = 0; i < 100 && !client; i++) { // until it accepts (≤ 10 s)
    client = await Client.open(path).catch(() => undefined);
    if (!client) await new Promise((r) => setTimeout(r, 100));
  }
  client!.send('still served\n');
  t.deepEqual(await client!.lines(1), ['still served']);
  client!.destroy();
  t.is((await quiet.stop()).code, 0);
  t.is(quiet.logs.filter((l) => l.level < 40).length, 0, quiet.stderr);
});
