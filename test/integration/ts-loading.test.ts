import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

/**
 * TypeScript configs load through Node's own type stripping where this Node has it
 * (`process.features.typescript`, Node >= 22.18) and through jiti otherwise, or when Node
 * cannot run the file. A config tells which loaded it: jiti runs it as CommonJS, with `require`.
 */
const NATIVE = Boolean((process.features as { typescript?: unknown }).typescript);
const WHO = `typeof require === 'undefined' ? 'native' : 'jiti'`;

async function loadedBy(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const dir = tempDir(t, 'tsload');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const r = await runSs(['config', '--json'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '', 'nothing on stderr (no ExperimentalWarning)');
  const report = JSON.parse(r.stdout) as { settings: Record<string, { value?: unknown }> };
  t.is(report.settings.maxLine?.value, 2048, 'the config\'s plugin options apply');
  return report.settings.name?.value as string;
}

const config = (head: string, extra = '') =>
  `${head}\nconst who: string = ${WHO};\nexport default { name: who${extra}, bind: '127.0.0.1:0', plugins: [['line', { maxLine: '2kb' }]] };\n`;

test(`a plain TypeScript config loads ${NATIVE ? 'through Node\'s type stripping' : 'through jiti (this Node cannot strip types)'}`, async (t) => {
  t.is(await loadedBy(t, { 'socketserver.config.ts': config('interface X { a: number }') }), NATIVE ? 'native' : 'jiti');
});

const FALLBACKS: { title: string; files: Record<string, string> }[] = [
  { title: 'an enum', files: { 'socketserver.config.ts': config('enum Unit { K = "kb" }', ' + Unit.K.slice(2)') } },
  { title: 'a .js-suffixed import of a .ts file', files: {
    'socketserver.config.ts': config('import { suffix } from \'./part.js\';', ' + suffix'),
    'part.ts': 'export const suffix: string = \'\';\n',
  } },
  { title: 'a type imported without `import type`', files: {
    'socketserver.config.ts': config('import { Part } from \'./part.ts\';\nconst p: Part | undefined = undefined;', ' + (p ?? \'\')'),
    'part.ts': 'export type Part = string;\n',
  } },
];
for (const c of FALLBACKS) {
  test(`a TypeScript config with ${c.title} that Node cannot run loads through jiti`, async (t) => {
    t.is(await loadedBy(t, c.files), 'jiti');
  });
}

test(`HUP re-reads a TypeScript config and the .ts files it imports${NATIVE ? ', through Node\'s type stripping' : ''}`, async (t) => {
  const dir = tempDir(t, 'tsreload');
  // Where Node strips types, a reload does too (jiti would make it 3): its workers then find what it stripped in the cache.
  const count = (n: number) => writeFileSync(join(dir, 'count.ts'),
    `export const workers: number = ${NATIVE ? `typeof require === 'undefined' ? ${n} : 3` : n};\n`);
  count(1);
  writeFileSync(join(dir, 'socketserver.config.ts'),
    `import { workers } from './count.ts';\nexport default { workers, bind: '127.0.0.1:0', plugins: ['echo'] } satisfies object;\n`);
  const ss = await startSs(t, [], { cwd: dir, freePort: false });
  t.is((await ssInfo(ss.pid, { cwd: dir })).monitors[0].workers.wanted, 1);
  count(2);
  process.kill(ss.pid, 'SIGHUP');
  await eventually(async () => ((await ssInfo(ss.pid, { cwd: dir })).monitors[0].workers.alive === 2 ? true : undefined),
    'two workers from the changed count.ts', 15_000);
  t.false(/ExperimentalWarning/.test(ss.stderr));
});

/** Where this Node lets ss keep the JavaScript it stripped a TypeScript file to (Node >= 22.15 with type stripping). */
const CACHES = NATIVE && typeof (await import('node:module') as { registerHooks?: unknown }).registerHooks === 'function';

test(`TypeScript stripped once is kept in a private cache folder, read by later processes${CACHES ? '' : ' (none on this Node)'}`, async (t) => {
  const dir = tempDir(t, 'tscache');
  const cacheHome = tempDir(t, 'cachehome');
  const cache = join(cacheHome, 'socketserver', 'ts');
  writeFileSync(join(dir, 'socketserver.config.ts'), config('const unit: string = "kb";'));
  await startSs(t, ['--workers', '2'], { cwd: dir, env: { XDG_CACHE_HOME: cacheHome } });
  if (!CACHES) {
    t.false(existsSync(cache), 'no cache folder');
    return;
  }
  const entries = readdirSync(cache);
  t.is(entries.length, 1, 'one entry for the one file');
  t.is(lstatSync(cache).mode & 0o777, 0o700);
  t.is(lstatSync(join(cache, entries[0]!)).mode & 0o777, 0o600);
  // What a later process runs is the entry, not the file: shown by changing the entry's JavaScript alone.
  const entry = join(cache, entries[0]!);
  const stripped = readFileSync(entry, 'utf8');
  const js = stripped.lastIndexOf('export default');
  t.true(js > 0, stripped);
  writeFileSync(entry, `${stripped.slice(0, js)}export default { name: 'from-cache', plugins: [['line', { maxLine: '2kb' }]] };\n`);
  const again = await runSs(['config', '--json'], { cwd: dir, env: { XDG_CACHE_HOME: cacheHome } });
  t.is(again.code, 0, again.stderr);
  t.is(JSON.parse(again.stdout).settings.name.value, 'from-cache');
  t.deepEqual(readdirSync(cache), entries, 'and writes none');
  // An edited file is stripped again, into the same entry.
  writeFileSync(join(dir, 'socketserver.config.ts'), config('const unit: string = "kb"; // edited'));
  const edited = await runSs(['config', '--json'], { cwd: dir, env: { XDG_CACHE_HOME: cacheHome } });
  t.is(edited.code, 0, edited.stderr);
  t.not(JSON.parse(edited.stdout).settings.name.value, 'from-cache');
  t.is(JSON.parse(edited.stdout).settings.maxLine.value, 2048);
  t.deepEqual(readdirSync(cache), entries, 'one entry per file');
});

test('a cache folder open to other users is not used, and the config still loads', async (t) => {
  const dir = tempDir(t, 'tscache-open');
  const cacheHome = tempDir(t, 'cachehome-open');
  const cache = join(cacheHome, 'socketserver', 'ts');
  mkdirSync(cache, { recursive: true });
  chmodSync(cache, 0o777);
  writeFileSync(join(dir, 'socketserver.config.ts'), config('const unit: string = "kb";'));
  const r = await runSs(['config', '--json'], { cwd: dir, env: { XDG_CACHE_HOME: cacheHome } });
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).settings.maxLine.value, 2048);
  t.deepEqual(readdirSync(cache), [], 'nothing written where others could change it');
});

test('what jiti compiled is kept in a private cache folder too, read by later processes', async (t) => {
  const dir = tempDir(t, 'jiticache');
  const cacheHome = tempDir(t, 'cachehome-jiti');
  const cache = join(cacheHome, 'socketserver', 'jiti');
  writeFileSync(join(dir, 'socketserver.config.ts'), config('enum Unit { K = "kb" }', ' + Unit.K.slice(2)'));
  const env = { XDG_CACHE_HOME: cacheHome };
  const first = await runSs(['config', '--json'], { cwd: dir, env });
  t.is(first.code, 0, first.stderr);
  t.is(lstatSync(cache).mode & 0o777, 0o700);
  const entries = readdirSync(cache);
  t.is(entries.length, 1, entries.join(', '));
  // What a later process runs is the entry, not the file: shown by changing the entry alone.
  const entry = join(cache, entries[0]!);
  const compiled = readFileSync(entry, 'utf8');
  t.true(compiled.includes('2kb'), compiled);
  writeFileSync(entry, compiled.replace('2kb', '3kb'));
  const again = await runSs(['config', '--json'], { cwd: dir, env });
  t.is(again.code, 0, again.stderr);
  t.is(JSON.parse(again.stdout).settings.maxLine.value, 3072);
});
