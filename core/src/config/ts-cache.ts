import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateDir } from './private-dir.js';

/**
 * Node strips a TypeScript file's types with a WebAssembly compiler that costs a process
 * about 17 MB of RSS for as long as it lives. Each worker imports the same config the
 * arbiter did: the stripped JavaScript is kept in a private cache folder, keyed by the
 * source and the Node version, so only the first process to see a file pays for it.
 */
type LoadResult = { format?: string | null; source?: string | ArrayBuffer | NodeJS.TypedArray; shortCircuit?: boolean };
type ResolveResult = { url: string; format?: string | null; shortCircuit?: boolean };
type Hooks = {
  resolve(specifier: string, context: { parentURL?: string }, next: (specifier: string, context?: object) => ResolveResult): ResolveResult;
  load(url: string, context: object, next: (url: string, context?: object) => LoadResult): LoadResult;
};
const mod = nodeModule as unknown as {
  registerHooks?: (hooks: Hooks) => unknown;
  stripTypeScriptTypes?: (code: string) => string;
};

const TS_URL = /^file:.*\.[cm]?ts(\?|$)/;
const AS_JS: Record<string, string> = { 'module-typescript': 'module', 'commonjs-typescript': 'commonjs' };

/** `<cache home>/socketserver/<name>`, private to this user; undefined when there can be none (no home, read-only, not ours). */
export function privateCache(name: 'ts' | 'jiti'): string | undefined {
  try {
    return privateDir(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'socketserver', name));
  } catch {
    return undefined; // every process compiles for itself
  }
}

/** Strip without the ExperimentalWarning stripTypeScriptTypes gives: it would break the JSON log on stderr. */
function strip(code: string): string {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning).startsWith('stripTypeScriptTypes')) (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return mod.stripTypeScriptTypes!(code);
  } finally {
    process.emitWarning = emit;
  }
}

/** The query that makes a reload import a TypeScript file, and the TypeScript files it imports, anew. */
export const RELOAD = 'ss-load';
const RELOAD_OF = new RegExp(`[?&]${RELOAD}=(\\d+)`);

let installed: boolean | undefined;

/**
 * Serve TypeScript imports from the cache from now on, where this Node allows it (>= 22.15),
 * and pass a reload's query on to the TypeScript files a reloaded file imports. False when
 * this Node has no hooks: a reload then cannot read a file Node has imported again.
 */
export function installTsHooks(): boolean {
  if (installed !== undefined) return installed;
  installed = Boolean(mod.registerHooks && mod.stripTypeScriptTypes);
  if (!installed) return false;
  const dir = privateCache('ts');
  mod.registerHooks!({
    resolve(specifier, context, next) {
      const result = next(specifier, context);
      const reload = context.parentURL ? RELOAD_OF.exec(context.parentURL) : null;
      if (!reload || !TS_URL.test(result.url) || result.url.includes('?') || result.url.includes('/node_modules/')) return result;
      return { ...result, url: `${result.url}?${RELOAD}=${reload[1]}` };
    },
    load(url, context, next) {
      // Asking Node's own loader for a .ts file is what loads its compiler: a hit is read here.
      if (!dir || !TS_URL.test(url)) return next(url, context);
      let source: string;
      try {
        source = readFileSync(fileURLToPath(url), 'utf8');
      } catch {
        return next(url, context); // Node says why
      }
      // Keyed without the reload query: what a reload stripped, the workers it starts find.
      const key = `${process.version}\0${url.replace(/\?.*$/, '')}\0${source}`;
      const file = join(dir, `${createHash('sha256').update(key).digest('hex')}.js`);
      try {
        const cached = readFileSync(file, 'utf8');
        const newline = cached.indexOf('\n');
        return { format: cached.slice(0, newline), source: cached.slice(newline + 1), shortCircuit: true };
      } catch { /* not yet */ }
      const result = next(url, context);
      const format = AS_JS[result.format ?? ''];
      if (!format) return result;
      const js = strip(source); // throws, as Node would, what strip-only mode cannot run
      try {
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, `${format}\n${js}`, { mode: 0o600 });
        renameSync(tmp, file); // whole or not at all, for a process reading it now
      } catch { /* a full disk: next time */ }
      return { format, source: js, shortCircuit: true };
    },
  });
  return true;
}
