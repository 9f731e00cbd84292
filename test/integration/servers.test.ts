import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask } from '../helpers/client.js';
import { launchSs, processTitle, runSs, ssInfo } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { freePort } from '../helpers/free-port.js';

// Several servers in one config, under one arbiter.

test('two servers from one config: two ports, two protocols, each with its own workers, in one arbiter', async (t) => {
  const dir = tempDir(t, 'servers');
  writeFileSync(join(dir, 'socketserver.config.mjs'), `export default {
  log_level: 'info',
  servers: {
    lines: { plugins: ['line'], bind: '127.0.0.1:0', workers: 2 },
    frames: { plugins: [['netstring', { maxNetstring: '1kb' }]], bind: '127.0.0.1:0', workers: 1 },
  },
};
`);
  const ss = launchSs(t, ['serve'], { cwd: dir });
  await ss.waitForLog((l) => l.msg.startsWith('serving lines'), 20_000);
  await ss.waitForLog((l) => l.msg.startsWith('serving frames'), 20_000);
  const port = (name: string) => Number((ss.logs.find((l) => l.name === name && l.msg.startsWith('listening on'))!.address as string).split(':')[1]);
  t.is(await ask(port('lines'), 'hello'), 'hello');
  const { Client } = await import('../helpers/client.js');
  const c = await Client.open(port('frames'));
  c.send('5:hello,');
  await c.until(() => c.received.toString() === '5:hello,', 'the netstring echo');
  c.destroy();

  const info = await ssInfo(ss.pid, { cwd: dir });
  t.deepEqual(info.monitors.map((m: { name: string; workers: unknown }) => [m.name, m.workers]),
    [['lines', { wanted: 2, alive: 2 }], ['frames', { wanted: 1, alive: 1 }]]);
  t.is(processTitle(ss.pid), 'ss arbiter [lines, frames]');
  const titles = info.workers.map((w: { pid: number }) => processTitle(w.pid)).sort();
  t.deepEqual(titles, ['ss worker 1 [frames]', 'ss worker 1 [lines]', 'ss worker 2 [lines]']);
  t.is((await ss.stop('SIGTERM')).code, 0);
});

test('servers in a config: --bind for all of them is refused, exit 2', async (t) => {
  const dir = tempDir(t, 'servers-bind');
  writeFileSync(join(dir, 'socketserver.config.mjs'),
    `export default { servers: { a: { plugins: ['echo'] }, b: { plugins: ['line'], bind: ':9' } } };\n`);
  const r = await runSs(['serve', '--bind', '127.0.0.1:0'], { cwd: dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /^ss: --bind: the config .* declares servers a, b; set bind in each server's entry\n$/);
});

test('servers in a config: --name picks one; ss serve serves it alone, ss send talks to it; an undeclared name exits 2', async (t) => {
  const dir = tempDir(t, 'servers-name');
  const [a, b] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'socketserver.config.mjs'),
    `export default { servers: { a: { plugins: ['line'], bind: '127.0.0.1:${a}' }, b: { plugins: ['echo'], bind: '127.0.0.1:${b}' } } };\n`);
  const ss = launchSs(t, ['serve', '--name', 'a'], { cwd: dir });
  await ss.waitForLog((l) => l.msg.startsWith('serving a'), 20_000);
  const sent = await runSs(['send', '--name', 'a', 'hello', 'there'], { cwd: dir });
  t.is(sent.code, 0, sent.stderr);
  t.is(sent.stdout, 'hello\nthere\n');
  const other = await runSs(['send', '--name', 'b', 'hi'], { cwd: dir });
  t.is(other.code, 1, 'server b is not served');
  t.regex(other.stderr, /connection refused/);
  const info = await ssInfo(ss.pid, { cwd: dir });
  t.deepEqual(info.monitors.map((m: { name: string }) => m.name), ['a']);
  const wrong = await runSs(['send', '--name', 'c', 'hi'], { cwd: dir });
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /^ss: --name c: the config .* declares servers a, b; name one of them to use it alone\n$/);
  t.is((await ss.stop('SIGTERM')).code, 0);
});

