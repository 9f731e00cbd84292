import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { assertLocatedError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// A failure in the user's own code (a handler, a plugin) names FILE:LINE:COLUMN under its one line,
// with the code there: from a project folder outside the repository, as a user runs ss.

const BIND0 = ['--bind', '127.0.0.1:0'];

/** A project folder holding `files` (ES modules). */
function project(t: Parameters<typeof tempDir>[0], files: Record<string, string>): string {
  const dir = tempDir(t, 'errloc');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'errloc-project', private: true, type: 'module' }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** The 1-based column of `what` in `line`. */
const col = (line: string, what: string) => line.indexOf(what) + 1;

test('a TypeScript handler with a syntax error: exit 1, its file:line:column and that line', async (t) => {
  const bad = '  return message.toUpperCase(;';
  const cwd = project(t, { 'badhandler.ts': `const shout = (message: string): string => {\n${bad}\n};\nexport default shout;\n` });
  const r = await runSs(['serve', '--plugin', 'line', '--handler', './badhandler.ts', ...BIND0], { cwd });
  assertLocatedError(t, r, 1, [`handler ${join(cwd, 'badhandler.ts')} failed to load`], `badhandler.ts:2:${col(bad, ';')}`, bad);
});

test('a JavaScript handler with a syntax error, named from another folder: its absolute path', async (t) => {
  const bad = '  return message.toUpperCase(;';
  const dir = project(t, { 'bad.mjs': `export default (message) => {\n${bad}\n};\n` });
  const elsewhere = tempDir(t, 'errloc-cwd');
  const r = await runSs(['serve', '--plugin', 'line', '--handler', join(dir, 'bad.mjs'), ...BIND0], { cwd: elsewhere });
  assertLocatedError(t, r, 1, [`handler ${join(dir, 'bad.mjs')} failed to load`], `${join(dir, 'bad.mjs')}:2:${col(bad, ';')}`, bad);
});

const THROWS = '    const url = app.cfg.upstream.url;';
const BUGGY = `export default {\n  name: 'buggy',\n  apply(app) {\n${THROWS}\n    return url;\n  },\n};\n`;

for (const workers of ['0', '2']) {
  test(`a JavaScript plugin throwing in apply, workers ${workers}: the plugin's line, no frame of ss's own, said once`, async (t) => {
    const cwd = project(t, { 'buggy.mjs': BUGGY });
    const r = await runSs(['serve', '--plugin', 'line', '--plugin', './buggy.mjs', '--workers', workers, ...BIND0], { cwd });
    assertLocatedError(t, r, 1, [`plugin "buggy" failed in apply: Cannot read properties of undefined (reading 'url')`],
      `buggy.mjs:4:${col(THROWS, 'url;')}`, THROWS);
  });
}

test('ss plugins names where the plugin failed in apply', async (t) => {
  const cwd = project(t, { 'buggy.mjs': BUGGY });
  const text = await runSs(['plugins', '--plugin', 'line', '--plugin', './buggy.mjs'], { cwd });
  t.is(text.code, 1, text.stderr);
  t.regex(text.stdout, new RegExp(`^ {2}at: {7}buggy\\.mjs:4:${col(THROWS, 'url;')}$`, 'm'));
  t.true(text.stderr.includes(`> 4 | ${THROWS}`), text.stderr);
  const json = await runSs(['plugins', '--plugin', 'line', '--plugin', './buggy.mjs', '--json'], { cwd });
  t.is(json.code, 1, json.stderr);
  const [, buggy] = (JSON.parse(json.stdout) as { plugins: { at?: string }[] }).plugins;
  t.is(buggy?.at, `buggy.mjs:4:${col(THROWS, 'url;')}`);
});

test('a plugin throwing while its module is evaluated: the throw, then the top-level line that called it', async (t) => {
  const throws = `  throw new Error('no database');`;
  const cwd = project(t, { 'plugins/top.mjs': `function connect() {\n${throws}\n}\nconnect();\nexport default { name: 'top' };\n` });
  const r = await runSs(['serve', '--plugin', 'line', '--plugin', './plugins/top.mjs', ...BIND0], { cwd });
  assertLocatedError(t, r, 1, [`plugin "./plugins/top.mjs" (${join(cwd, 'plugins', 'top.mjs')}) failed to load: no database`],
    `plugins/top.mjs:2:${col(throws, 'new Error')}`, throws);
  t.regex(r.stderr, /^ {4}at plugins\/top\.mjs:4:1$/m, 'the caller, at the top level');
});

test('a TypeScript plugin that jiti compiles (an enum) throwing in apply: the .ts line and column, not the compiled ones', async (t) => {
  const throws = '    const mode: Mode = Mode.Strict; const url: string = app.cfg.upstream!.url;';
  const source = [
    `enum Mode { Strict = 'strict' }`,
    'interface Upstream { url: string }',
    '',
    'export default {',
    `  name: 'typed',`,
    '  apply(app: { cfg: { upstream?: Upstream } }): void {',
    throws,
    '    void mode; void url;',
    '  },',
    '};',
  ].join('\n');
  const cwd = project(t, { 'typed.ts': source });
  const r = await runSs(['serve', '--plugin', 'line', '--plugin', './typed.ts', ...BIND0], { cwd });
  assertLocatedError(t, r, 1, ['plugin "typed" failed in apply'], `typed.ts:7:${col(throws, 'url;')}`, throws);
});

test('a plugin written in TypeScript and built to dist/ with a source map: the line of its .ts source', async (t) => {
  const throws = '    const url: string = app.cfg.upstream!.url;';
  const source = `interface Upstream { url: string }\n\nexport default {\n  name: 'built',\n  apply(app: { cfg: { upstream?: Upstream } }): string {\n${throws}\n    return url;\n  },\n};\n`;
  const built = ts.transpileModule(source, {
    fileName: 'index.ts',
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, sourceMap: true },
  });
  const map = JSON.parse(built.sourceMapText!) as { sources: string[] };
  map.sources = ['../src/index.ts'];
  const cwd = project(t, {
    'built/src/index.ts': source,
    'built/dist/index.js': built.outputText,
    'built/dist/index.js.map': JSON.stringify(map),
  });
  const r = await runSs(['serve', '--plugin', 'line', '--plugin', './built/dist/index.js', ...BIND0], { cwd });
  assertLocatedError(t, r, 1, ['plugin "built" failed in apply'], `built/src/index.ts:6:${col(throws, 'url;')}`, throws);
});
