import test, { type ExecutionContext } from 'ava';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { assertOneLineError } from '../helpers/assert.js';
import { REPO, runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

const FIXTURES = join(REPO, 'test', 'fixtures', 'plugins');
const CLI_DIR = join(REPO, 'cli');

interface PluginReport {
  name: string;
  configured: string;
  package: string | null;
  version: string | null;
  file: string;
  protocol: boolean;
  handler: boolean;
  dependencies: string[];
  settings: { name: string; flag: string; default: unknown }[];
  hooks: string[];
  error?: string;
}

/** A temporary project folder (no config file), removed at teardown. */
function project(t: ExecutionContext, prefix: string): string {
  const dir = tempDir(t, prefix);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${prefix}-project`, private: true, type: 'module' }));
  return dir;
}

/** "Install" a fixture package as node_modules/NAME of `dir`. */
function install(dir: string, fixture: string, name: string): string {
  const target = join(dir, 'node_modules', name);
  mkdirSync(join(target, '..'), { recursive: true });
  cpSync(join(FIXTURES, fixture), target, { recursive: true });
  return target;
}

async function pluginsJson(t: ExecutionContext, args: readonly string[], cwd: string): Promise<PluginReport[]> {
  const r = await runSs(['plugins', '--json', ...args], { cwd });
  t.is(r.code, 0, `ss plugins --json ${args.join(' ')}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { plugins: PluginReport[] }).plugins;
}

test('an installed socketserver-plugin-<name> package (ESM, exports map, no main) is found by --plugin <name>', async (t) => {
  const dir = project(t, 'upper');
  const pkg = install(dir, 'pkg-upper', 'socketserver-plugin-upper');

  const plugins = await pluginsJson(t, ['--plugin', 'upper', '--plugin', 'line'], dir);
  t.deepEqual(plugins.map((p) => p.name), ['upper', 'line']);
  const upper = plugins[0]!;
  t.like(upper, {
    configured: 'upper', package: 'socketserver-plugin-upper', version: '1.4.2',
    file: join(pkg, 'lib', 'index.js'), protocol: false, handler: true,
  });
  t.deepEqual(upper.settings, [{ name: 'upperPrefix', flag: '--upper-prefix', default: 'UP:' }]);
  t.like(plugins[1], { package: '@socketserver/plugin-line', protocol: true });

  // The full package name works as is.
  const full = await pluginsJson(t, ['--plugin', 'socketserver-plugin-upper'], dir);
  t.like(full[0], { name: 'upper', configured: 'socketserver-plugin-upper', package: 'socketserver-plugin-upper', file: upper.file });

  // Its setting is a flag of ss serve, with its default.
  const help = await runSs(['serve', '--help', '--plugin', 'upper', '--plugin', 'line'], { cwd: dir });
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /--upper-prefix\s.*\[upper\].*SS_UPPER_PREFIX.*default UP:/);

  const ss = await startSs(t, ['--plugin', 'upper', '--plugin', 'line', '--upper-prefix', '>>'], { cwd: dir });
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('hello\nmixed Case\n');
  t.deepEqual(await c.lines(2), ['>>HELLO', '>>MIXED CASE']);

  const byEnv = await startSs(t, ['--plugin', 'upper', '--plugin', 'line'], { cwd: dir, env: { SS_UPPER_PREFIX: 'env:' } });
  const d = await Client.open(byEnv.port);
  t.teardown(() => d.destroy());
  d.send('x\n');
  t.deepEqual(await d.lines(1), ['env:X']);
});

test('in its own package folder, --plugin <name> finds the package itself through its exports map (self-reference)', async (t) => {
  // Where a plugin is written and tested (the scaffold's `npx ss serve --plugin NAME`): not installed anywhere.
  const dir = tempDir(t, 'self', join('plugins', 'pkg-upper'));
  for (const cwd of [dir, join(dir, 'lib')]) {
    const plugins = await pluginsJson(t, ['--plugin', 'upper', '--plugin', 'line'], cwd);
    t.like(plugins[0], { name: 'upper', package: 'socketserver-plugin-upper', version: '1.4.2', file: join(dir, 'lib', 'index.js') });
  }
  const ss = await startSs(t, ['--plugin', 'upper', '--plugin', 'line'], { cwd: dir });
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('self\n');
  t.deepEqual(await c.lines(1), ['UP:SELF']);

  // Node resolves a package's own name only through an "exports" field: without one it is not found.
  const bare = tempDir(t, 'self-bare', join('plugins', 'pkg-upper'));
  writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'socketserver-plugin-upper', version: '1.4.2', type: 'module', main: 'lib/index.js' }));
  assertOneLineError(t, await runSs(['plugins', '--plugin', 'upper'], { cwd: bare }), 2, ['"upper" not found', 'socketserver-plugin-upper']);
});

test('a scoped @acme/socketserver-plugin-<x> package is found by --plugin @acme/<x>', async (t) => {
  const dir = project(t, 'acme');
  const pkg = install(dir, 'pkg-acme-semi', '@acme/socketserver-plugin-semi');

  const plugins = await pluginsJson(t, ['--plugin', '@acme/semi'], dir);
  t.is(plugins.length, 1);
  t.like(plugins[0], {
    name: 'semi', configured: '@acme/semi', package: '@acme/socketserver-plugin-semi', version: '0.3.0',
    file: join(pkg, 'index.js'), protocol: true, handler: false,
  });
  t.deepEqual(plugins[0]!.settings, [{ name: 'semiTerminator', flag: '--semi-terminator', default: ';' }]);

  const ss = await startSs(t, ['--plugin', '@acme/semi', '--semi-terminator', '|'], { cwd: dir });
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('one|tw');
  t.is(String(await c.read(4)), 'one|');
  c.send('o|;three|');
  t.is(String(await c.read(11)), 'two|;three|');
});

test('local plugin files by path: .mjs and .ts, relative or absolute', async (t) => {
  const dir = project(t, 'local');
  for (const file of ['local-plugin.mjs', 'local-plugin.ts']) cpSync(join(FIXTURES, file), join(dir, file));

  const plugins = await pluginsJson(t, ['--plugin', './local-plugin.ts'], dir);
  t.like(plugins[0], { name: 'ts-reverse', configured: './local-plugin.ts', package: null, file: join(dir, 'local-plugin.ts'), protocol: true });
  const elsewhere = project(t, 'abs');
  const absolute = await pluginsJson(t, ['--plugin', join(dir, 'local-plugin.mjs')], elsewhere);
  t.like(absolute[0], { name: 'local-tag', package: null, file: join(dir, 'local-plugin.mjs') });

  const mjs = await startSs(t, ['--plugin', './local-plugin.mjs', '--tag', 'T'], { cwd: dir });
  const c = await Client.open(mjs.port);
  t.teardown(() => c.destroy());
  c.send('hi\nthere\n');
  t.deepEqual(await c.lines(2), ['T:hi', 'T:there']);

  const ts = await startSs(t, ['--plugin', './local-plugin.ts', '--reverse-suffix', '?'], { cwd: dir });
  const d = await Client.open(ts.port);
  t.teardown(() => d.destroy());
  d.send('abc\n');
  t.deepEqual(await d.lines(1), ['cba?']);
});

test('a plugin that resolves nowhere: exit 2, listing the names and folders looked in', async (t) => {
  const dir = project(t, 'missing');
  assertOneLineError(t, await runSs(['serve', '--plugin', 'nosuchthing', '--bind', '127.0.0.1:0'], { cwd: dir }), 2,
    ['"nosuchthing"', '@socketserver/plugin-nosuchthing', 'socketserver-plugin-nosuchthing', dir, CLI_DIR]);
  assertOneLineError(t, await runSs(['serve', '--plugin', '@acme/gone', '--bind', '127.0.0.1:0'], { cwd: dir }), 2,
    ['"@acme/gone"', '@acme/socketserver-plugin-gone', dir, CLI_DIR]);
  assertOneLineError(t, await runSs(['plugins', '--plugin', 'nosuchthing'], { cwd: dir }), 2,
    ['@socketserver/plugin-nosuchthing', 'socketserver-plugin-nosuchthing', dir]);
  assertOneLineError(t, await runSs(['serve', '--plugin', './not-here.mjs', '--bind', '127.0.0.1:0'], { cwd: dir }), 2,
    ['./not-here.mjs', join(dir, 'not-here.mjs')]);
});

test('a hook-only plugin needing line: exit 2 naming both without line, serves with it', async (t) => {
  const dir = project(t, 'deps');
  cpSync(join(FIXTURES, 'tap-needs-line.mjs'), join(dir, 'tap-needs-line.mjs'));
  assertOneLineError(t, await runSs(['serve', '--plugin', './tap-needs-line.mjs', '--plugin', 'echo', '--bind', '127.0.0.1:0'], { cwd: dir }), 2,
    ['"line-tap"', '"line"']);

  const plugins = await pluginsJson(t, ['--plugin', './tap-needs-line.mjs', '--plugin', 'line'], dir);
  t.like(plugins[0], { name: 'line-tap', protocol: false, handler: false, dependencies: ['line'], hooks: ['connectionMade'] });

  const ss = await startSs(t, ['--plugin', './tap-needs-line.mjs', '--plugin', 'line'], { cwd: dir });
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('ok\n');
  t.deepEqual(await c.lines(1), ['ok']);
});

test('two protocol plugins: exit 2 naming both', async (t) => {
  const dir = project(t, 'twoproto');
  assertOneLineError(t, await runSs(['serve', '--plugin', 'line', '--plugin', 'netstring', '--bind', '127.0.0.1:0'], { cwd: dir }), 2,
    ['"line"', '"netstring"', 'protocol']);
  writeFileSync(join(dir, 'socketserver.config.mjs'), `export default { bind: '127.0.0.1:0', plugins: ['echo', 'line'] };\n`);
  assertOneLineError(t, await runSs(['serve'], { cwd: dir }), 2, ['"echo"', '"line"', 'protocol']);
});

test('ss serve --help lists the flags of the plugins named; ss plugins shows the resolution and settings', async (t) => {
  const dir = project(t, 'help');
  const withLine = await runSs(['serve', '--help', '--plugin', 'line'], { cwd: dir });
  t.is(withLine.code, 0, withLine.stderr);
  t.regex(withLine.stdout, /^\s+--max-line\s.*\[line\].*SS_MAX_LINE.*default 64kb/m);
  t.regex(withLine.stdout, /--bind/);
  const without = await runSs(['serve', '--help'], { cwd: dir });
  t.is(without.code, 0, without.stderr);
  t.false(/^\s+--max-line\s/m.test(without.stdout), 'no line plugin, no --max-line option');
  t.regex(without.stdout, /--bind/);

  const text = await runSs(['plugins', '--plugin', 'line'], { cwd: dir });
  t.is(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  t.regex(lines[0]!, /^line -> @socketserver\/plugin-line@\d+\.\d+\.\d+ \(.*plugins\/line\/dist\/index\.js\)$/);
  t.true(lines.some((l) => /^\s+provides:\s+protocol$/.test(l)), text.stdout);
  t.true(lines.some((l) => /^\s+settings:\s+--max-line \(default 64kb\)$/.test(l)), text.stdout);

  const json = await pluginsJson(t, ['--plugin', 'line'], dir);
  t.like(json[0], { name: 'line', package: '@socketserver/plugin-line', file: join(REPO, 'plugins', 'line', 'dist', 'index.js') });
});

test('ss plugins builds the server as ss serve does: the hooks bundled plugins tap; a plugin failing in apply is named, exit 1', async (t) => {
  const dir = project(t, 'applied');
  const ok = await pluginsJson(t, ['--plugin', 'line', '--plugin', 'metrics'], dir);
  t.deepEqual(ok.map((p) => [p.name, p.hooks, p.error]), [['line', [], undefined], ['metrics', ['monitorStart', 'workerStart', 'info'], undefined]]);

  const noProtocol = await pluginsJson(t, ['--plugin', 'metrics'], dir);
  t.is(noProtocol[0]!.error, 'not applied: a server needs a protocol plugin', 'listed, not a failure');

  const r = await runSs(['plugins', '--plugin', 'line', '--plugin', join(FIXTURES, 'fails-in-apply.mjs')], { cwd: dir });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /^ {2}error: {4}plugin "buggy" failed in apply: .*'url'/m);
  t.false(/^ {2}error:/m.test(r.stdout.split('fails-in-apply.mjs ->')[0]!), 'the line plugin has no error');

  // A failure no plugin is named in is said as ss serve says it: one line, the same exit code.
  const handler = await runSs(['plugins', '--plugin', 'line', '--handler', './nope.mjs'], { cwd: dir });
  t.is(handler.code, 2, handler.stderr);
  t.is(handler.stderr, `ss: invalid --handler "./nope.mjs": no such module ${join(dir, 'nope.mjs')}\n`);
  t.regex(handler.stdout, /^line -> /);
});
