import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { REPO } from '../helpers/ss.js';

/**
 * core/src is layered one way (docs/design.md §2): the files at its top are shared by every
 * layer and import no folder; config/ and net/ know only those; plugins/ builds the app
 * on config/ and net/; process/ sits on top. Type-only imports count too.
 */
const SRC = join(REPO, 'core', 'src');
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  '.': ['.'],
  config: ['.', 'config'],
  net: ['.', 'net'],
  plugins: ['.', 'config', 'net', 'plugins'],
  process: ['.', 'config', 'net', 'plugins', 'process'],
  client: ['.', 'config', 'net', 'plugins', 'client'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The folder of core/src a file is in ('.' for the top). */
function layer(file: string): string {
  const rel = relative(SRC, dirname(file));
  return rel === '' ? '.' : rel.split(sep)[0]!;
}

/** Every relative module a file imports or re-exports, static or dynamic, by absolute path. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return found.map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

test('core/src imports go one way: top < config, net < plugins < process, client', (t) => {
  const files = sources(SRC);
  t.true(files.length > 20, 'found the sources');
  const wrong: string[] = [];
  for (const file of files) {
    if (file === join(SRC, 'index.ts')) continue; // the public API re-exports every layer
    const from = layer(file);
    for (const target of imports(file)) {
      if (relative(SRC, target).startsWith('..')) continue; // outside the sources (package.json)
      const to = layer(target);
      if (!MAY_IMPORT[from]!.includes(to)) wrong.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
    }
  }
  t.deepEqual(wrong, []);
});

test('core/src keeps a handful of files at its top; every other file is in a layer folder', (t) => {
  const top = readdirSync(SRC, { withFileTypes: true });
  const files = top.filter((e) => e.isFile()).map((e) => e.name).sort();
  const folders = top.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  t.deepEqual(folders, Object.keys(MAY_IMPORT).filter((l) => l !== '.').sort());
  t.true(files.length <= 6, `top-level files: ${files.join(', ')}`);
});

test('the package entry re-exports nothing from process/: every worker loads it through its plugins', (t) => {
  const entry = join(SRC, 'index.ts');
  const heavy = imports(entry).filter((target) => layer(target) === 'process').map((target) => relative(SRC, target));
  t.deepEqual(heavy, [], 'runners belong in process/index.ts (@socketserver/core/process)');
  t.true(imports(join(SRC, 'process', 'index.ts')).length > 0, 'process/index.ts is the runners\' entry');
});
