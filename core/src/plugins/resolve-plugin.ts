import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, errorMessage } from '../errors.js';

export interface Resolution {
  /** What the user wrote. */
  readonly name: string;
  /** Absolute path of the module to import. */
  readonly file: string;
  /** The package it came from, if any, and its version. */
  readonly packageName?: string;
  readonly version?: string;
  /** The plugin itself, when it was given as an object (a test's) rather than found: not imported. */
  readonly plugin?: unknown;
}

export function isPathSpec(name: string): boolean {
  return name.startsWith('.') || isAbsolute(name) || /\.[cm]?[jt]sx?$/.test(name);
}

/**
 * Package names a plugin name stands for (docs/design.md §6): `echo` is `@socketserver/plugin-echo`
 * then `socketserver-plugin-echo`; `@scope/foo` is `@scope/socketserver-plugin-foo`;
 * a full package name is itself.
 */
export function pluginCandidates(name: string): string[] {
  if (/^@socketserver\/plugin-|^(@[^/]+\/)?socketserver-plugin-/.test(name)) return [name];
  const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
  if (scoped) return [`${scoped[1]}/socketserver-plugin-${scoped[2]}`];
  return [`@socketserver/plugin-${name}`, `socketserver-plugin-${name}`];
}

function packageInfo(file: string, packageName: string): { version?: string } {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (json.name === packageName) return { version: json.version };
    } catch {
      return {};
    }
  }
  return {};
}

/**
 * Find a plugin: a path relative to `baseDir`, or a package resolved from `baseDir`
 * (the config file's folder or the working directory) and then from `fallbackDirs`
 * (where the built-in plugins are installed). The error lists every place looked.
 */
export async function resolvePlugin(name: string, baseDir: string, fallbackDirs: readonly string[] = []): Promise<Resolution> {
  if (isPathSpec(name)) {
    const file = resolve(baseDir, name);
    if (!existsSync(file)) throw new UsageError(`plugin "${name}": no such file ${file}`);
    return { name, file };
  }
  // Loaded only for package names: a worker is handed its plugins' files by the arbiter.
  const { resolve: resolveImport } = await import('import-meta-resolve');
  const candidates = pluginCandidates(name);
  const dirs = [...new Set([baseDir, ...fallbackDirs])];
  for (const candidate of candidates) {
    for (const dir of dirs) {
      try {
        const url = resolveImport(candidate, pathToFileURL(join(dir, 'noop.js')).href);
        const file = fileURLToPath(url);
        return { name, file, packageName: candidate, ...packageInfo(file, candidate) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ERR_MODULE_NOT_FOUND') throw new UsageError(`plugin "${name}": ${candidate}: ${errorMessage(err)}`);
      }
    }
  }
  throw new UsageError(`plugin "${name}" not found: looked for ${candidates.join(', ')} from ${dirs.join(', ')}`);
}
