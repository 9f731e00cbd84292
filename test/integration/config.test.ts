import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { assertOneLineError } from '../helpers/assert.js';
import { type SsProcess, runSs, startSs, type SpawnOptions } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';

/** `ss serve ARGS` exactly as given (the config file's own bind is served); stopped by pid at teardown. */
async function serveAsIs(t: ExecutionContext, args: readonly string[], opts: SpawnOptions): Promise<SsProcess> {
  const ss = await startSs(t, args, { ...opts, freePort: false });
  return ss;
}

interface SettingReport {
  value?: unknown;
  source: string;
  from: string;
  owner: string;
}
interface ConfigReport {
  config: string | null;
  settings: Record<string, SettingReport>;
}

async function configJson(t: ExecutionContext, args: readonly string[], opts: SpawnOptions): Promise<ConfigReport> {
  const r = await runSs(['config', '--json', ...args], opts);
  t.is(r.code, 0, `ss config --json ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ConfigReport;
}

/**
 * What the ts-config fixture sets, checked over a socket: the line protocol, its maxLine
 * of 1kb (the default 64 KiB would echo a 2000-byte line) and keep_alive of 1 s
 * (the default 15 s would outlast the wait).
 */
async function assertServesTsConfig(t: ExecutionContext, ss: SsProcess): Promise<void> {
  t.is(ss.addresses.length, 1, `one address: ${ss.addresses.join(', ')}`);
  t.regex(ss.addresses[0]!, /^127\.0\.0\.1:\d+$/);
  t.not(ss.port, 0);
  t.not(ss.port, 8060, 'the config\'s port 0, not the default port');

  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('hello\r\nsecond line\n');
  t.deepEqual(await c.lines(2), ['hello', 'second line']);
  c.send(`${'x'.repeat(2000)}\n`);
  await c.waitClose();
  t.is(c.received.length, 0, 'no echo of a line over maxLine');

  const idle = await Client.open(ss.port);
  t.teardown(() => idle.destroy());
  idle.send('ping\n');
  t.deepEqual(await idle.lines(1), ['ping']);
  const since = Date.now();
  await idle.waitClose(8000);
  t.true(Date.now() - since >= 500, 'closed for being idle, not at once');
}

test('a TypeScript config in the working directory, importing .ts files, is found and served', async (t) => {
  const dir = tempDir(t, 'tsconf', 'ts-config');
  const file = join(dir, 'socketserver.config.ts');

  const report = await configJson(t, [], { cwd: dir });
  t.is(report.config, file);
  const expected: Record<string, unknown> = { bind: ['127.0.0.1:0'], keep_alive: 1, backlog: 77, maxLine: 1024 };
  for (const [name, value] of Object.entries(expected)) {
    t.deepEqual(report.settings[name]?.value, value, name);
    t.is(report.settings[name]?.source, 'config', name);
    t.is(report.settings[name]?.from, file, name);
  }
  t.is(report.settings.maxLine?.owner, 'line');

  const ss = await serveAsIs(t, [], { cwd: dir });
  await assertServesTsConfig(t, ss);
});

/** Names, sizes, modes and mtimes of everything in `dir`, and the folder's own mtime. */
function listing(dir: string): string[] {
  const entries = (readdirSync(dir, { recursive: true }) as string[]).sort().map((name) => {
    const s = lstatSync(join(dir, name));
    return `${name} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`;
  });
  return [`. ${lstatSync(dir).mtimeMs}`, ...entries];
}

/**
 * Make `dir` and its files unwritable for this user. Root ignores permission bits, so as
 * root the folder and files are made immutable (chattr +i: ext4 and most Linux file
 * systems), which stops every user; otherwise plain modes do. Undone at teardown.
 */
function makeReadOnly(t: ExecutionContext, dir: string): void {
  const paths = [...readdirSync(dir).map((name) => join(dir, name)), dir];
  if (process.getuid?.() === 0) {
    const set = spawnSync('chattr', ['+i', ...paths], { encoding: 'utf8' });
    t.teardown(() => { spawnSync('chattr', ['-i', ...paths]); });
    if (set.status !== 0) throw new Error(`chattr +i failed (needed to make a folder read-only for root): ${set.stderr || set.error}`);
  } else {
    for (const path of paths) chmodSync(path, path === dir ? 0o555 : 0o444);
  }
}

const WRITE_PROBE = `
const fs = require('node:fs');
const codes = [];
for (const attempt of [
  () => fs.writeFileSync('probe.txt', 'x'),
  () => fs.mkdirSync('node_modules'),
  () => fs.appendFileSync('limits.ts', '// touched'),
]) {
  try { attempt(); codes.push('WROTE'); } catch (err) { codes.push(err.code); }
}
console.log(codes.join(' '));
`;

test('a config in a read-only folder is loaded and served without writing there', async (t) => {
  const dir = tempDir(t, 'readonly', 'ts-config');
  makeReadOnly(t, dir);
  const before = listing(dir);

  // First prove the folder is unwritable for the user ss runs as (this one).
  const probe = spawnSync(process.execPath, ['-e', WRITE_PROBE], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
  t.is(probe.status, 0, probe.stderr);
  t.regex(probe.stdout.trim(), /^(EACCES|EPERM) (EACCES|EPERM) (EACCES|EPERM)$/, 'the folder and its files are unwritable');
  t.deepEqual(listing(dir), before);

  const report = await configJson(t, [], { cwd: dir });
  t.is(report.config, join(dir, 'socketserver.config.ts'));
  t.is(report.settings.maxLine?.value, 1024);
  t.is(report.settings.backlog?.value, 77);

  const ss = await serveAsIs(t, [], { cwd: dir });
  await assertServesTsConfig(t, ss);
  const exit = await ss.stop();
  t.is(exit.code, 0, ss.stderr);
  t.deepEqual(listing(dir), before, 'nothing was written in the config\'s folder');
});

test('precedence: default < config file < SS_* environment < command line, for core and plugin settings', async (t) => {
  const empty = tempDir(t, 'noconf');
  const dir = tempDir(t, 'prec');
  const file = join(dir, 'socketserver.config.mjs');
  writeFileSync(file, `export default { bind: '127.0.0.1:7101', plugins: [['line', { maxLine: '8kb' }]] };\n`);
  const env = { SS_BIND: '127.0.0.1:7102', SS_MAX_LINE: '16kb' };

  const steps = [
    { what: 'default', cwd: empty, args: ['--plugin', 'line'], env: {}, config: null, bind: '127.0.0.1:8060', maxLine: 65536, source: 'default', from: ['default', 'default'] },
    { what: 'config', cwd: dir, args: [], env: {}, config: file, bind: '127.0.0.1:7101', maxLine: 8192, source: 'config', from: [file, file] },
    { what: 'env', cwd: dir, args: [], env, config: file, bind: '127.0.0.1:7102', maxLine: 16384, source: 'env', from: ['SS_BIND', 'SS_MAX_LINE'] },
    { what: 'cli', cwd: dir, args: ['--bind', '127.0.0.1:7103', '--max-line', '32kb'], env, config: file, bind: '127.0.0.1:7103', maxLine: 32768, source: 'cli', from: ['--bind', '--max-line'] },
  ];
  for (const step of steps) {
    const report = await configJson(t, step.args, { cwd: step.cwd, env: step.env });
    t.is(report.config, step.config, step.what);
    t.deepEqual(report.settings.bind, { value: [step.bind], source: step.source, from: step.from[0], owner: 'core' }, step.what);
    t.deepEqual(report.settings.maxLine, { value: step.maxLine, source: step.source, from: step.from[1], owner: 'line' }, step.what);
    // A setting nobody set stays at its default throughout.
    t.deepEqual(report.settings.keep_alive, { value: 15, source: 'default', from: 'default', owner: 'core' }, step.what);
  }

  // The same order when serving: SS_BIND beats the config's port 7101, and --bind beats SS_BIND.
  const byEnv = await serveAsIs(t, [], { cwd: dir, env: { SS_BIND: '127.0.0.1:0' } });
  t.is(byEnv.addresses.length, 1);
  t.regex(byEnv.addresses[0]!, /^127\.0\.0\.1:\d+$/);
  t.not(byEnv.port, 7101);
  const sock = join(dir, 'cli.sock');
  const byCli = await serveAsIs(t, ['--bind', `unix:${sock}`], { cwd: dir, env: { SS_BIND: '127.0.0.1:0' } });
  t.deepEqual(byCli.addresses, [`unix:${sock}`]);
  const c = await Client.open(sock);
  t.teardown(() => c.destroy());
  c.send('over unix\n');
  t.deepEqual(await c.lines(1), ['over unix']);
});

test('--config FILE (and SS_CONFIG) name a config in another folder; its plugin paths are relative to that folder', async (t) => {
  const root = tempDir(t, 'cfgfile');
  const confDir = join(root, 'conf');
  cpSync(join(FIXTURES, 'elsewhere'), confDir, { recursive: true });
  cpSync(join(FIXTURES, 'plugins', 'local-plugin.mjs'), join(confDir, 'local-plugin.mjs'));
  const confFile = join(confDir, 'my-server.config.mjs');
  const cwd = join(root, 'work');
  mkdirSync(cwd);
  const own = join(cwd, 'socketserver.config.mjs');
  writeFileSync(own, `export default { bind: '127.0.0.1:7201', keep_alive: 3, plugins: ['echo'] };\n`);

  const searched = await configJson(t, [], { cwd });
  t.is(searched.config, own, 'without --config the working directory\'s config is found');
  t.is(searched.settings.keep_alive?.value, 3);

  for (const [how, args, env] of [
    ['--config', ['--config', '../conf/my-server.config.mjs'], {}],
    ['-c', ['-c', confFile], {}],
    ['SS_CONFIG', [], { SS_CONFIG: confFile }],
  ] as const) {
    const report = await configJson(t, args, { cwd, env });
    t.is(report.config, confFile, how);
    t.deepEqual(report.settings.keep_alive, { value: 9, source: 'config', from: confFile, owner: 'core' }, how);
    t.deepEqual(report.settings.tag, { value: 'elsewhere', source: 'config', from: confFile, owner: 'local-tag' }, how);
  }

  const plugins = await runSs(['plugins', '--json', '--config', '../conf/my-server.config.mjs'], { cwd });
  t.is(plugins.code, 0, plugins.stderr);
  const listed = (JSON.parse(plugins.stdout) as { plugins: { name: string; file: string; package: string | null }[] }).plugins;
  t.deepEqual(listed.map((p) => [p.name, p.file, p.package]), [['local-tag', join(confDir, 'local-plugin.mjs'), null]]);

  const ss = await serveAsIs(t, ['--config', '../conf/my-server.config.mjs'], { cwd });
  t.not(ss.port, 7201);
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('hi\n');
  t.deepEqual(await c.lines(1), ['elsewhere:hi']);
});

test('.socketserverrc.json and package.json#socketserver are found in the working directory', async (t) => {
  const rcDir = tempDir(t, 'rc');
  writeFileSync(join(rcDir, 'package.json'), JSON.stringify({ name: 'no-socketserver-key', version: '1.0.0' }));
  const rc = join(rcDir, '.socketserverrc.json');
  writeFileSync(rc, JSON.stringify({ bind: '127.0.0.1:7301', keep_alive: 4, plugins: [['line', { maxLine: '2kb' }]] }));
  const fromRc = await configJson(t, [], { cwd: rcDir });
  t.is(fromRc.config, rc);
  t.deepEqual(fromRc.settings.bind, { value: ['127.0.0.1:7301'], source: 'config', from: rc, owner: 'core' });
  t.deepEqual(fromRc.settings.keep_alive?.value, 4);
  t.deepEqual(fromRc.settings.maxLine, { value: 2048, source: 'config', from: rc, owner: 'line' });

  const pkgDir = tempDir(t, 'pkg');
  cpSync(join(FIXTURES, 'plugins', 'local-plugin.mjs'), join(pkgDir, 'local-plugin.mjs'));
  const pkg = join(pkgDir, 'package.json');
  writeFileSync(pkg, JSON.stringify({
    name: 'my-server', version: '1.0.0', private: true,
    socketserver: { bind: 'unix:./pkg.sock', keep_alive: 6, plugins: [['./local-plugin.mjs', { tag: 'pkg' }]] },
  }));
  const fromPkg = await configJson(t, [], { cwd: pkgDir });
  t.is(fromPkg.config, pkg);
  t.deepEqual(fromPkg.settings.keep_alive, { value: 6, source: 'config', from: pkg, owner: 'core' });
  t.deepEqual(fromPkg.settings.tag, { value: 'pkg', source: 'config', from: pkg, owner: 'local-tag' });

  const ss = await serveAsIs(t, [], { cwd: pkgDir });
  const sock = join(pkgDir, 'pkg.sock');
  t.deepEqual(ss.addresses, [`unix:${sock}`]);
  const c = await Client.open(sock);
  t.teardown(() => c.destroy());
  c.send('yo\n');
  t.deepEqual(await c.lines(1), ['pkg:yo']);
});

const BAD_CONFIGS: { title: string; source: string; mentions: string[] }[] = [
  {
    title: 'a syntax error in the TypeScript file',
    source: `const port: number = 0;\nexport default { bind: \`127.0.0.1:\${port}\`, plugins: ['line'],, };\n`,
    mentions: ['socketserver.config.ts'],
  },
  {
    title: 'an import of a file that does not exist',
    source: `import { limits } from './no-such-limits.ts';\nexport default { bind: '127.0.0.1:0', keep_alive: limits, plugins: ['line'] };\n`,
    mentions: ['socketserver.config.ts', 'no-such-limits'],
  },
  {
    title: 'an unknown key',
    source: `export default { bind: '127.0.0.1:0', keepalive: 5, plugins: ['line'] };\n`,
    mentions: ['socketserver.config.ts', '"keepalive"', 'keep_alive'],
  },
  {
    title: 'a bad value',
    source: `export default { bind: '127.0.0.1:0', keep_alive: -1, plugins: ['line'] };\n`,
    mentions: ['socketserver.config.ts', 'keep_alive', '-1', 'seconds'],
  },
  {
    title: 'a bad bind',
    source: `export default { bind: '127.0.0.1:99999', plugins: ['line'] };\n`,
    mentions: ['socketserver.config.ts', 'bind', '99999', 'HOST:PORT'],
  },
  {
    title: 'a plugin option the plugin does not declare',
    source: `export default { bind: '127.0.0.1:0', plugins: [['line', { maxLen: '8kb' }]] };\n`,
    mentions: ['socketserver.config.ts', '"line"', '"maxLen"', 'maxLine'],
  },
  {
    title: 'a bad value for a plugin option',
    source: `export default { bind: '127.0.0.1:0', plugins: [['line', { maxLine: 'huge' }]] };\n`,
    mentions: ['socketserver.config.ts', 'maxLine', 'huge', '64kb'],
  },
  {
    title: 'a default export that is a number',
    source: `export default 42;\n`,
    mentions: ['socketserver.config.ts', 'object'],
  },
  {
    title: 'a default export that is an array',
    source: `export default ['line'];\n`,
    mentions: ['socketserver.config.ts', 'object'],
  },
  {
    title: 'a default export that is null',
    source: `export default null;\n`,
    mentions: ['socketserver.config.ts', 'object'],
  },
];

test('a config\'s handler path is resolved from the config\'s folder; one naming no module exits 2 naming it', async (t) => {
  const dir = tempDir(t, 'handlerconf');
  const elsewhere = tempDir(t, 'handlercwd');
  const conf = join(dir, 'socketserver.config.ts');
  writeFileSync(conf, `export default { bind: '127.0.0.1:0', plugins: ['line'], handler: './nope.ts' };\n`);
  const r = await runSs(['serve', '--config', conf], { cwd: elsewhere, timeoutMs: 15_000 });
  assertOneLineError(t, r, 2, [`handler in ${conf}`, '"./nope.ts"', `no such module ${join(dir, 'nope.ts')}`]);
});

for (const bad of BAD_CONFIGS) {
  test(`bad config, ${bad.title}: exit 2 with one line naming the file and setting`, async (t) => {
    const dir = tempDir(t, 'badconf');
    writeFileSync(join(dir, 'socketserver.config.ts'), bad.source);
    const serve = await runSs(['serve'], { cwd: dir, timeoutMs: 15_000 });
    assertOneLineError(t, serve, 2, bad.mentions);
    t.is(serve.stdout, '');
    const config = await runSs(['config', '--json'], { cwd: dir, timeoutMs: 15_000 });
    assertOneLineError(t, config, 2, bad.mentions);
  });
}

test('bad config named with --config: a syntax error names that file', async (t) => {
  const dir = tempDir(t, 'badfile');
  const file = join(dir, 'broken.config.ts');
  writeFileSync(file, `export default { bind: '127.0.0.1:0' plugins: ['line'] };\n`);
  assertOneLineError(t, await runSs(['serve', '--config', file], { cwd: dir, timeoutMs: 15_000 }), 2, [file]);
  assertOneLineError(t, await runSs(['serve', '--config', join(dir, 'missing.config.ts')], { cwd: dir }), 2,
    [join(dir, 'missing.config.ts'), 'no such file']);
});
