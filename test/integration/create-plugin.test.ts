import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

/** The scaffold's command, as npm links it (`npm create socketserver-plugin` runs this bin). */
const BIN = join(REPO, 'create-plugin', 'bin', 'create-socketserver-plugin.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the scaffold in `cwd` with no stdin at all: it must never ask. */
function create(cwd: string, args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, and one line on stderr naming each of `mentions`, nothing on stdout. */
function refused(t: ExecutionContext, r: Run, mentions: readonly string[]): void {
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.is(lines.length, 1, r.stderr);
  t.true(lines[0]!.startsWith('create-socketserver-plugin: '), lines[0]);
  for (const m of mentions) t.true(lines[0]!.includes(m), `"${m}" in: ${lines[0]}`);
}

/** Every file under `dir`, relative, sorted. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
const GENERATED = ['.gitignore', 'README.md', 'package.json', 'src/index.ts', 'test/plugin.test.ts', 'tsconfig.json'];

test('NAME alone: a protocol plugin package in ./socketserver-plugin-NAME, its names filled in everywhere', (t) => {
  const cwd = tempDir(t, 'create');
  const r = create(cwd, ['my-proto']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  t.regex(r.stdout, /cd socketserver-plugin-my-proto\n\s+npm install\n\s+npm test.*\n\s+npx ss serve --plugin my-proto\n/);

  const dir = join(cwd, 'socketserver-plugin-my-proto');
  t.deepEqual(files(dir), GENERATED);
  for (const file of GENERATED) t.false(readFileSync(join(dir, file), 'utf8').includes('{{'), `${file} has no placeholder left`);

  const pkg = json(join(dir, 'package.json'));
  const own = json(join(REPO, 'create-plugin', 'package.json'));
  t.like(pkg, {
    name: 'socketserver-plugin-my-proto', type: 'module',
    exports: { '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' } },
    scripts: { build: 'tsc', test: 'tsc && node --test dist/test/*.test.js' },
  });
  // The socketserver packages at the scaffold's own version; TypeScript and Node's types as it is built with.
  const range = `^${own.version}`;
  t.deepEqual(pkg.peerDependencies, { '@socketserver/core': range });
  t.deepEqual(pkg.devDependencies, {
    '@socketserver/cli': range, '@socketserver/core': range, '@socketserver/testing': range,
    '@types/node': own.devDependencies['@types/node'], typescript: own.devDependencies.typescript,
  });
  t.is(pkg.dependencies, undefined);

  const src = readFileSync(join(dir, 'src', 'index.ts'), 'utf8');
  t.true(src.includes("name: 'my-proto'"));
  t.true(src.includes("myProtoMaxFrame: {\n      flags: ['--my-proto-max-frame']"));
  t.true(src.includes('export class MyProtoProtocol'));
  t.true(src.includes('throw new ProtocolError('));
  const tests = readFileSync(join(dir, 'test', 'plugin.test.ts'), 'utf8');
  t.true(tests.includes("from '@socketserver/testing'"));
  t.true(tests.includes("startServer(t, { plugins: ['my-proto']"));
  t.true(readFileSync(join(dir, 'README.md'), 'utf8').includes('SS_MY_PRO' + 'TO_MAX_FRAME'));
  t.deepEqual(readFileSync(join(dir, '.gitignore'), 'utf8').split('\n').filter(Boolean), ['node_modules/', 'dist/', '*.tgz']);
});

test('--kind hook --dir DIR: a hook plugin in DIR; the full package name is taken as NAME too', (t) => {
  const cwd = tempDir(t, 'create-hook');
  const r = create(cwd, ['socketserver-plugin-conn-count', '--kind', 'hook', '--dir', 'plugins/counter']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /cd plugins\/counter\n[\s\S]*npx ss serve --plugin line --plugin conn-count\n/);
  const dir = join(cwd, 'plugins', 'counter');
  t.deepEqual(files(dir), GENERATED);
  t.is(json(join(dir, 'package.json')).name, 'socketserver-plugin-conn-count');
  const src = readFileSync(join(dir, 'src', 'index.ts'), 'utf8');
  for (const hook of ['connectionMade', 'postRequest', 'info']) t.true(src.includes(`app.hooks.${hook}.tap('conn-count'`), hook);
  t.false(src.includes('protocol'));
});

test('a NAME that cannot be a plugin\'s: exit 2, one line naming it, nothing written', (t) => {
  const cwd = tempDir(t, 'create-bad');
  for (const bad of ['MyProto', 'my_proto', '-x', '9lives', 'a--b', 'trailing-', '@scope/x', 'a'.repeat(51)]) {
    refused(t, create(cwd, bad.startsWith('-') ? ['--', bad] : [bad]), [`invalid NAME "${bad}"`]);
  }
  refused(t, create(cwd, []), ['missing NAME']);
  refused(t, create(cwd, ['one', 'two']), ['one NAME expected', 'one two']);
  t.deepEqual(readdirSync(cwd), []);
});

test('the bundled plugins\' names are refused: ss would load the bundled one for them', (t) => {
  const cwd = tempDir(t, 'create-bundled');
  const bundled = readdirSync(join(REPO, 'plugins'));
  t.true(bundled.length >= 7, bundled.join(' '));
  for (const name of bundled) refused(t, create(cwd, [name]), [`invalid NAME "${name}"`, `@socketserver/plugin-${name}`]);
  t.deepEqual(readdirSync(cwd), []);
});

test('bad options: exit 2, one line naming the option', (t) => {
  const cwd = tempDir(t, 'create-options');
  refused(t, create(cwd, ['x', '--kind', 'server']), ['invalid --kind "server"', 'protocol or hook']);
  refused(t, create(cwd, ['x', '--kind']), ['invalid --kind ""']);
  refused(t, create(cwd, ['x', '--dir']), ['--dir needs a folder']);
  refused(t, create(cwd, ['x', '--kind', 'hook', '--kind', 'protocol']), ['--kind given 2 times']);
  refused(t, create(cwd, ['x', '--name', 'y']), ['unknown option --name']);
  t.deepEqual(readdirSync(cwd), []);
  const help = create(cwd, ['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: create-socketserver-plugin NAME \[--kind protocol\|hook\] \[--dir DIR\] \[--force\]/);
});

test('an existing folder: refused if it holds anything (exit 2 naming it), used if empty, overwritten with --force', (t) => {
  const cwd = tempDir(t, 'create-exists');
  const dir = join(cwd, 'socketserver-plugin-taken');
  mkdirSync(dir);
  t.is(create(cwd, ['taken']).code, 0, 'an empty folder is used');

  writeFileSync(join(dir, 'src', 'index.ts'), '// mine\n');
  refused(t, create(cwd, ['taken']), ['NAME taken', './socketserver-plugin-taken exists', '--force']);
  t.is(readFileSync(join(dir, 'src', 'index.ts'), 'utf8'), '// mine\n', 'left as it was');

  writeFileSync(join(cwd, 'a-file'), '');
  refused(t, create(cwd, ['other', '--dir', 'a-file']), ['--dir a-file exists']);
  t.false(existsSync(join(cwd, 'socketserver-plugin-other')));

  writeFileSync(join(dir, 'NOTES'), 'kept\n');
  const forced = create(cwd, ['taken', '--kind', 'hook', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.true(readFileSync(join(dir, 'src', 'index.ts'), 'utf8').includes("definePlugin({\n  name: 'taken'"), 'the generated file replaced');
  t.is(readFileSync(join(dir, 'NOTES'), 'utf8'), 'kept\n', 'another file is left alone');
});

test('the scaffold asks for the TypeScript and Node types versions the repository builds with', (t) => {
  const own = json(join(REPO, 'create-plugin', 'package.json'));
  const root = json(join(REPO, 'package.json'));
  for (const name of ['typescript', '@types/node']) t.is(own.devDependencies[name], root.devDependencies[name], name);
  t.is(own.version, json(join(REPO, 'core', 'package.json')).version, 'released with core');
});
