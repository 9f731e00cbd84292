import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

const BIND0 = ['--bind', '127.0.0.1:0'];
const IS_ROOT = process.getuid?.() === 0;

// ---- ss info: it trusts neither the control folder nor what answers in it ----

interface Fake { dirMode?: number; sockMode?: number; dirOwner?: number }

/**
 * A control folder (in a fresh XDG_RUNTIME_DIR) in which something that is not ss answers
 * for this test process's pid (alive, so `ss info` finds it) with `reply`.
 */
async function fakeServer(t: ExecutionContext, reply: string, f: Fake = {}): Promise<Record<string, string>> {
  const runtime = tempDir(t, 'xdg');
  const dir = join(runtime, 'socketserver');
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, `${process.pid}.sock`);
  const server = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(reply));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  chmodSync(path, f.sockMode ?? 0o600);
  chmodSync(dir, f.dirMode ?? 0o700);
  if (f.dirOwner !== undefined) chownSync(dir, f.dirOwner, f.dirOwner);
  return { XDG_RUNTIME_DIR: runtime };
}

const info = (env: Record<string, string>, ...args: string[]) => runSs(['info', '--pid', String(process.pid), ...args], { env });
const DOC = JSON.stringify({ arbiter: { pid: process.pid, name: 'fake', state: 'running', version: '0.0.0', uptime: 1 }, monitors: [], workers: [] });

test('the fake server of these tests is answered as a server (control case)', async (t) => {
  const r = await info(await fakeServer(t, DOC));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^arbiter  pid ${process.pid}  fake`));
});

const UNTRUSTED: { title: string; fake: Fake; mentions: string[] }[] = [
  { title: 'a control folder open to other users', fake: { dirMode: 0o755 }, mentions: ['socketserver', 'open to other users', '755'] },
  { title: 'a control socket open to other users', fake: { sockMode: 0o666 }, mentions: [`${process.pid}.sock`, 'open to other users', '666'] },
];
for (const c of UNTRUSTED) {
  test(`ss info refuses ${c.title}: exit 1, one line`, async (t) => {
    const env = await fakeServer(t, DOC, c.fake);
    assertOneLineError(t, await info(env), 1, c.mentions);
    // Without --pid, it does not even list the folder (nor remove stale sockets from it).
    assertOneLineError(t, await runSs(['info'], { env }), 1, c.mentions);
  });
}

// Making a folder another user's takes root; the check itself is unit-tested for any user (control-trust.test.ts).
if (IS_ROOT) {
  test('ss info refuses a control folder that belongs to another user: exit 1, one line', async (t) => {
    const env = await fakeServer(t, DOC, { dirOwner: 65534 });
    assertOneLineError(t, await info(env), 1, ['socketserver', 'belongs to another user', '65534']);
  });
}

test('ss info reads at most 4 MiB of reply: over that, exit 1, one line', async (t) => {
  const big = JSON.stringify({ arbiter: { pid: process.pid }, pad: 'x'.repeat(5 * 2 ** 20) });
  const r = await info(await fakeServer(t, big));
  assertOneLineError(t, r, 1, ['over 4 MiB']);
  t.is(r.stdout, '');
});

const HOSTILE = {
  arbiter: { pid: process.pid, name: '\u001b[31mred\u001b]0;title\u0007', state: 'running\u009b2J', version: '1', uptime: 1 },
  monitors: [{ name: 'two\nlines', addresses: ['a\rb'], workers: { alive: 1, wanted: 1 }, tap: '\u001b[2K' }],
  workers: [{ server: 'two\nlines', id: 1, pid: 2, state: '\u202eevil', memory: 1 }],
  note: '\u007f\u0085\u2028',
};
// Controls a terminal acts on: everything below space but the line ends ss itself writes, DEL, C1, separators, bidi overrides.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('ss info prints what the server sent with its control characters escaped, one line per item', async (t) => {
  const r = await info(await fakeServer(t, JSON.stringify(HOSTILE)));
  t.is(r.code, 0, r.stderr);
  t.false(RAW_CONTROL.test(r.stdout), JSON.stringify(r.stdout));
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 4, 'arbiter, server, worker and note lines; no line added by a newline in a name');
  t.true(lines[0]!.includes('\\u001b[31mred\\u001b]0;title\\u0007'), lines[0]);
  t.true(lines[0]!.includes('running\\u009b2J'), lines[0]);
  t.true(lines[1]!.startsWith('server two\\u000alines  a\\u000db'), lines[1]);
  t.true(lines[2]!.includes('\\u202eevil'), lines[2]);
});

test('ss info --json escapes every control character, and the document reads back the same', async (t) => {
  const r = await info(await fakeServer(t, JSON.stringify(HOSTILE)), '--json');
  t.is(r.code, 0, r.stderr);
  t.false(RAW_CONTROL.test(r.stdout), JSON.stringify(r.stdout));
  t.deepEqual(JSON.parse(r.stdout), HOSTILE);
});

test('ss info given a document of the wrong shape: no stack trace', async (t) => {
  const env = await fakeServer(t, JSON.stringify({ arbiter: { pid: 7 }, monitors: 5, workers: 'x' }));
  const r = await info(env);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^arbiter  pid 7/);
  const env2 = await fakeServer(t, JSON.stringify({ arbiter: { pid: { toString: 1 } } }));
  assertOneLineError(t, await info(env2), 1, ['not an info document']);
  assertOneLineError(t, await info(await fakeServer(t, '[1, 2]')), 1, ['not an info document']);
});

// ---- seconds beyond what a timer can wait ----

const TOO_LONG: { title: string; args: string[]; env?: Record<string, string>; mentions: string[] }[] = [
  { title: '--graceful-timeout 2147484', args: ['--graceful-timeout', '2147484'], mentions: ['--graceful-timeout', '2147484', 'from 0 to 2147483'] },
  { title: '--plugin-timeout 3000000', args: ['--plugin-timeout', '3000000'], mentions: ['--plugin-timeout', '3000000', 'from 0 to 2147483'] },
  { title: '--timeout 99999999999', args: ['--timeout', '99999999999'], mentions: ['--timeout', '99999999999', 'from 0 to 2147483'] },
  { title: 'SS_KEEP_ALIVE=2147483.5', args: [], env: { SS_KEEP_ALIVE: '2147483.5' }, mentions: ['SS_KEEP_ALIVE', 'from 0 to 2147483'] },
];
for (const c of TOO_LONG) {
  test(`${c.title}, beyond setTimeout's range: exit 2, one line naming the setting`, async (t) => {
    const cwd = tempDir(t, 'secs');
    assertOneLineError(t, await runSs(['serve', '--plugin', 'echo', ...BIND0, ...c.args], { cwd, env: c.env ?? {} }), 2, c.mentions);
  });
}

test('keep_alive beyond setTimeout\'s range in a config file: exit 2, naming it and the file', async (t) => {
  const cwd = tempDir(t, 'secs-conf');
  const file = join(cwd, 'socketserver.config.mjs');
  writeFileSync(file, 'export default { plugins: [\'echo\'], keep_alive: 1e9 };\n');
  assertOneLineError(t, await runSs(['config'], { cwd }), 2, [`keep_alive in ${file}`, 'from 0 to 2147483']);
});

test('the longest seconds a timer can wait, 2147483, are accepted', async (t) => {
  const cwd = tempDir(t, 'secs-max');
  const r = await runSs(['config', '--json', '--plugin', 'echo', '--graceful-timeout', '2147483', '--keep-alive', '2147483'], { cwd });
  t.is(r.code, 0, r.stderr);
  const settings = JSON.parse(r.stdout).settings;
  t.is(settings.graceful_timeout.value, 2147483);
  t.is(settings.keep_alive.value, 2147483);
});

// ---- a plugin's mistakes and failures: one line, no stack ----

const PLUGIN_MISTAKES: { title: string; source: string; code: number; mentions: string[] }[] = [
  { title: 'a setting without flags', source: `export default { name: 'noflags', settings: { depth: { desc: 'd' } } };`,
    code: 2, mentions: ['plugin "noflags"', 'depth', 'flags'] },
  { title: 'a setting whose flags are a string', source: `export default { name: 'strflags', settings: { depth: { flags: '--depth', desc: 'd' } } };`,
    code: 2, mentions: ['plugin "strflags"', 'depth', 'flags'] },
  { title: 'a setting that is null', source: `export default { name: 'nullset', settings: { depth: null } };`,
    code: 2, mentions: ['plugin "nullset"', 'depth'] },
  { title: 'a setting of an unknown type', source: `export default { name: 'badtype', settings: { depth: { flags: ['--depth'], type: 'float', desc: 'd' } } };`,
    code: 2, mentions: ['plugin "badtype"', 'depth', '"float"'] },
  { title: 'a validate that throws a string', source: `export default { name: 'strval', settings: { depth: { flags: ['--depth'], default: '3', desc: 'd', validate() { throw 'a depth from 1 to 2'; } } } };`,
    code: 2, mentions: ['depth', 'a depth from 1 to 2'] },
  { title: 'a handler(cfg) factory that throws', source: `export default { name: 'hthrow', handler() { throw new Error('no database'); } };`,
    code: 1, mentions: ['plugin "hthrow"', 'handler', 'no database'] },
  { title: 'a handler(cfg) factory that returns no function', source: `export default { name: 'hnone', handler() { return 42; } };`,
    code: 2, mentions: ['plugin "hnone"', 'handler', 'not a function'] },
];
for (const c of PLUGIN_MISTAKES) {
  for (const workers of ['0', '1']) {
    test(`a plugin with ${c.title}, workers ${workers}: exit ${c.code}, one line`, async (t) => {
      const cwd = tempDir(t, 'badplugin');
      writeFileSync(join(cwd, 'bad.mjs'), `${c.source}\n`);
      const r = await runSs(['serve', '--plugin', 'line', '--plugin', './bad.mjs', '--workers', workers, ...BIND0], { cwd });
      assertOneLineError(t, r, c.code, c.mentions);
    });
  }
}

// ---- a system call's failure at start-up ----

test('a stale unix socket that cannot be removed: exit 1, one line naming it', async (t) => {
  const cwd = tempDir(t, 'unlink');
  const dir = join(cwd, 'locked');
  mkdirSync(dir);
  // A socket file with no listener, as a server that crashed leaves it (exiting without close keeps the file).
  const leftover = join(dir, 'left.sock');
  const made = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(leftover)}, () => process.exit(0))`]);
  t.is(made.status, 0);
  // Its folder refuses removals: read-only for a user; immutable for root, whom modes do not stop.
  if (IS_ROOT) {
    const set = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
    t.is(set.status, 0, `chattr +i: ${set.stderr}`);
    t.teardown(() => { spawnSync('chattr', ['-i', dir]); });
  } else {
    chmodSync(dir, 0o555);
  }
  const r = await runSs(['serve', '--plugin', 'echo', '--workers', '0', '--bind', `unix:${leftover}`], { cwd });
  assertOneLineError(t, r, 1, [leftover, IS_ROOT ? 'EPERM' : 'EACCES']);
});

// ---- pidfile ----

test('--pidfile holding something other than a pid is replaced, and nothing is left beside it', async (t) => {
  const dir = tempDir(t, 'pidgarbage');
  const pidfile = join(dir, 'ss.pid');
  writeFileSync(pidfile, 'not a pid\n');
  const ss = await startSs(['--plugin', 'echo', '--workers', '1', '--pidfile', pidfile], { cwd: dir });
  t.is(readFileSync(pidfile, 'utf8'), `${ss.pid}\n`);
  t.deepEqual(readdirSync(dir), ['ss.pid']);
  await ss.stop();
  t.deepEqual(readdirSync(dir), []);
});
