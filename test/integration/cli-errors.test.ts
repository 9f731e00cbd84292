import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs, startSs } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

const RUNTIME = join(FIXTURES, 'runtime');

const BIND0 = ['--bind', '127.0.0.1:0'];

/** Usage mistakes: exit 2, one line naming the setting and what it accepts. */
const USAGE_ERRORS: { title: string; args: string[]; env?: Record<string, string>; mentions: string[]; timeoutMs?: number }[] = [
  { title: '--backlog abc', args: ['serve', '--plugin', 'echo', ...BIND0, '--backlog', 'abc'], mentions: ['--backlog', 'abc', 'whole number'] },
  { title: '--backlog 0', args: ['serve', '--plugin', 'echo', ...BIND0, '--backlog', '0'], mentions: ['--backlog', '"0"', 'whole number from 1'] },
  { title: '--keep-alive -1', args: ['serve', '--plugin', 'echo', ...BIND0, '--keep-alive', '-1'], mentions: ['--keep-alive', '-1', 'seconds'] },
  { title: '--keep-alive=soon', args: ['serve', '--plugin', 'echo', ...BIND0, '--keep-alive=soon'], mentions: ['--keep-alive', 'soon', 'seconds'] },
  { title: '--bind 127.0.0.1:99999', args: ['serve', '--plugin', 'echo', '--bind', '127.0.0.1:99999'], mentions: ['--bind', '99999', 'HOST:PORT', '0 to 65535'] },
  { title: '-b 127.0.0.1:99999', args: ['serve', '--plugin', 'echo', '-b', '127.0.0.1:99999'], mentions: ['bind', '99999', 'HOST:PORT'] },
  { title: '--bind nonsense (a host that does not resolve)', args: ['serve', '--plugin', 'echo', '--bind', 'nonsense'], mentions: ['--bind', 'nonsense'], timeoutMs: 60_000 },
  { title: '--bind unix: (empty path)', args: ['serve', '--plugin', 'echo', '--bind', 'unix:'], mentions: ['--bind', 'unix:', 'path'] },
  { title: '--bind "no such host!"', args: ['serve', '--plugin', 'echo', '--bind', 'no such host!'], mentions: ['--bind', 'no such host!', 'HOST:PORT'] },
  // With no value, --bind must not fall back to all interfaces (":8060"); checked with `ss config` so nothing is bound if it does.
  { title: '--bind with no value', args: ['config', '--json', '--plugin', 'echo', '--bind'], mentions: ['--bind', 'HOST:PORT'] },
  { title: '--bind "" (empty value)', args: ['config', '--json', '--plugin', 'echo', '--bind', ''], mentions: ['--bind', 'HOST:PORT'] },
  { title: '--log-level loud', args: ['serve', '--plugin', 'echo', ...BIND0, '--log-level', 'loud'], mentions: ['--log-level', 'loud', 'debug, info, warn, error'] },
  { title: '--max-line 1zb (a plugin setting)', args: ['serve', '--plugin', 'line', ...BIND0, '--max-line', '1zb'], mentions: ['--max-line', '1zb', '64kb'] },
  { title: 'SS_MAX_LINE=0', args: ['serve', '--plugin', 'line', ...BIND0], env: { SS_MAX_LINE: '0' }, mentions: ['SS_MAX_LINE', '0', 'size'] },
  { title: 'an unknown flag --frob', args: ['serve', '--plugin', 'echo', ...BIND0, '--frob'], mentions: ['--frob', 'ss serve --help'] },
  { title: 'an unknown flag of ss config', args: ['config', '--frob=1'], mentions: ['--frob'] },
  { title: '--max-line without the line plugin', args: ['serve', '--plugin', 'echo', ...BIND0, '--max-line', '8kb'], mentions: ['--max-line'] },
  { title: 'an unknown command', args: ['frob'], mentions: ['"frob"', 'serve, config, plugins'] },
  { title: 'SS_BACKLOG=abc', args: ['serve', '--plugin', 'echo', ...BIND0], env: { SS_BACKLOG: 'abc' }, mentions: ['SS_BACKLOG', 'abc', 'whole number'] },
  { title: 'SS_BIND=127.0.0.1:70000', args: ['serve', '--plugin', 'echo'], env: { SS_BIND: '127.0.0.1:70000' }, mentions: ['SS_BIND', '70000', 'HOST:PORT'] },
  { title: 'no protocol plugin', args: ['serve', ...BIND0], mentions: ['protocol', '--plugin'] },
  { title: '--handler naming no module', args: ['serve', '--plugin', 'line', ...BIND0, '--handler', './nope.ts'], mentions: ['--handler', './nope.ts', 'no such module'] },
  { title: 'SS_HANDLER naming no module', args: ['serve', '--plugin', 'line', ...BIND0], env: { SS_HANDLER: './nope.mjs' }, mentions: ['SS_HANDLER', 'no such module'] },
  { title: '--handler whose default export is not a function', args: ['serve', '--plugin', 'line', ...BIND0, '--handler', join(RUNTIME, 'not-a-handler.mjs')],
    mentions: ['not-a-handler.mjs', 'not a function'] },
  { title: 'two plugins each supplying a handler', args: ['serve', '--plugin', 'line', ...BIND0, '--plugin', join(RUNTIME, 'shout-handler.mjs'), '--plugin', join(RUNTIME, 'whisper-handler.mjs')],
    mentions: ['"shout"', '"whisper"', 'handler', '--handler'] },
];

for (const c of USAGE_ERRORS) {
  test(`usage error, ${c.title}: exit 2, one line naming the setting`, async (t) => {
    const cwd = tempDir(t, 'usage');
    const r = await runSs(c.args, { cwd, env: c.env ?? {}, timeoutMs: c.timeoutMs ?? 20_000 });
    assertOneLineError(t, r, 2, c.mentions);
    t.is(r.stdout, '', 'nothing on stdout');
  });
}

function listen(t: ExecutionContext, options: { host: string; port: number } | { path: string }): Promise<Server> {
  const server = createServer((s) => s.end());
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve(server));
  });
}

test('a TCP address in use: exit 1, one line saying address in use', async (t) => {
  const cwd = tempDir(t, 'inuse');
  const server = await listen(t, { host: '127.0.0.1', port: 0 });
  const port = (server.address() as { port: number }).port;
  const r = await runSs(['serve', '--plugin', 'echo', '--bind', `127.0.0.1:${port}`], { cwd });
  assertOneLineError(t, r, 1, [`127.0.0.1:${port}`, 'address in use']);
  t.true(server.listening, 'the other server is untouched');
});

test('a second address in use: exit 1, and the first address is released', async (t) => {
  const cwd = tempDir(t, 'inuse2');
  const server = await listen(t, { host: '127.0.0.1', port: 0 });
  const port = (server.address() as { port: number }).port;
  const sock = join(cwd, 'first.sock');
  const r = await runSs(['serve', '--plugin', 'echo', '--bind', `unix:${sock}`, '--bind', `127.0.0.1:${port}`], { cwd });
  assertOneLineError(t, r, 1, [`127.0.0.1:${port}`, 'address in use']);
  t.false(existsSync(sock), 'the unix socket bound first is removed');
});

test('a live unix socket in use: exit 1, and the other server keeps its socket', async (t) => {
  const cwd = tempDir(t, 'unixinuse');
  const path = join(cwd, 'live.sock');
  await listen(t, { path });
  const r = await runSs(['serve', '--plugin', 'echo', '--bind', `unix:${path}`], { cwd });
  assertOneLineError(t, r, 1, [path, 'address in use']);
  // The live server still accepts on its path.
  const c = await Client.open(path);
  t.teardown(() => c.destroy());
  await c.waitClose();
  t.pass();
});

test('a file that is not a socket at the unix path: exit 1, the file is left alone', async (t) => {
  const cwd = tempDir(t, 'notsock');
  const path = join(cwd, 'data.txt');
  writeFileSync(path, 'keep me');
  const r = await runSs(['serve', '--plugin', 'echo', '--bind', `unix:${path}`], { cwd });
  assertOneLineError(t, r, 1, [path, 'not a socket']);
  t.is(readFileSync(path, 'utf8'), 'keep me');
});

test('a stale unix socket file left by a killed server is replaced and served', async (t) => {
  const cwd = tempDir(t, 'stale');
  const path = join(cwd, 'stale.sock');
  // A server that dies by SIGKILL leaves its socket file behind.
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(process.argv[1], () => console.log('ready'))`, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`listener exited early (${code})`)));
  });
  child.kill('SIGKILL');
  await exited;
  t.true(lstatSync(path).isSocket(), 'the socket file is left behind');
  const refused = await new Promise<string>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => { probe.destroy(); resolve('connected'); });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  t.is(refused, 'ECONNREFUSED', 'nothing accepts on it: it is stale');

  const ss = await startSs(t, ['--plugin', 'echo', '--bind', `unix:${path}`], { cwd });
  t.deepEqual(ss.addresses, [`unix:${path}`]);
  const c = await Client.open(path);
  t.teardown(() => c.destroy());
  c.send('after the crash');
  t.is(String(await c.read('after the crash'.length)), 'after the crash');
  const exit = await ss.stop();
  t.is(exit.code, 0, ss.stderr);
  t.false(existsSync(path), 'removed on a clean stop');
});

test('an option of a bundled plugin that is not loaded: exit 2, one line saying whose it is and how to load it', async (t) => {
  const cwd = tempDir(t, 'owner');
  const cases: [string[], string, string][] = [
    [['serve', '--plugin', 'echo', ...BIND0, '--max-line', '10'], '--max-line', 'line'],
    [['config', '--metrics-bind', '127.0.0.1:0'], '--metrics-bind', 'metrics'],
  ];
  for (const [args, flag, owner] of cases) {
    const r = await runSs(args, { cwd });
    assertOneLineError(t, r, 2, [`unknown option ${flag}`, `the ${owner} plugin's`, `add --plugin ${owner}`]);
  }
  assertOneLineError(t, await runSs(['serve', '--plugin', 'echo', ...BIND0, '--bogus'], { cwd }), 2, ['unknown option --bogus', 'see ss serve --help']);
});
