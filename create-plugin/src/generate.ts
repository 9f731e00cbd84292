import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Names } from './names.js';

export const KINDS = ['protocol', 'hook'] as const;
export type Kind = (typeof KINDS)[number];

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TEMPLATES = join(ROOT, 'templates');

/** This package's manifest: its version is the socketserver packages' (they are released together). */
interface Manifest {
  version: string;
  devDependencies: Record<string, string>;
}

const DESCRIPTIONS: Record<Kind, string> = {
  protocol: 'socketserver protocol plugin: frames of a 4-byte big-endian length and that many bytes',
  hook: 'socketserver hook plugin: counts connections and requests, shown by ss info',
};

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** A template's text with its `{{placeholders}}` filled; a placeholder left over is a bug in the template. */
function fill(text: string, names: Names, file: string): string {
  const values: Record<string, string> = {
    name: names.name, packageName: names.packageName, Pascal: names.pascal, camel: names.camel, CONSTANT: names.constant,
  };
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${file}: unknown placeholder ${whole}`);
    return value;
  });
}

/**
 * The generated package.json. The socketserver packages are asked for at this package's own
 * version, TypeScript and Node's types at the versions this package is built with, so that a
 * new plugin starts on what was released together. `@socketserver/core` is a peer: the plugin
 * must use the server's copy (a `ProtocolError` from another copy would not be recognised).
 */
function packageJson(names: Names, kind: Kind, own: Manifest): string {
  const range = `^${own.version}`;
  const pkg = {
    name: names.packageName,
    version: '0.1.0',
    description: DESCRIPTIONS[kind],
    keywords: ['socketserver', 'socketserver-plugin'],
    type: 'module',
    exports: {
      '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' },
      './package.json': './package.json',
    },
    files: ['dist/src'],
    scripts: {
      build: 'tsc',
      test: 'tsc && node --test dist/test/*.test.js',
      prepack: 'tsc',
    },
    peerDependencies: { '@socketserver/core': range },
    devDependencies: {
      '@socketserver/cli': range,
      '@socketserver/core': range,
      '@socketserver/testing': range,
      '@types/node': own.devDependencies['@types/node'],
      typescript: own.devDependencies.typescript,
    },
    engines: { node: '>=20.19' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/**
 * Write the plugin package into `dir` (made if missing; files already there of the same names
 * are replaced). Returns the files written, relative to `dir`.
 */
export function generate(dir: string, names: Names, kind: Kind): string[] {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const out = new Map<string, string>([['package.json', packageJson(names, kind, own)]]);
  for (const source of ['common', kind]) {
    for (const file of filesUnder(join(TEMPLATES, source))) {
      // npm pack leaves out files named .gitignore, so the template is stored without its dot.
      const target = file === 'gitignore' ? '.gitignore' : file;
      out.set(target, fill(readFileSync(join(TEMPLATES, source, file), 'utf8'), names, `${source}/${file}`));
    }
  }
  for (const [file, text] of out) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return [...out.keys()].sort();
}
