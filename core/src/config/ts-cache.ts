import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateDir } from './private-dir.js';

/**
 * Node strips a TypeScript file's types with a WebAssembly compiler that costs a process
 * about 17 MB of RSS for as long as it lives. Each worker imports the same config the
 * arbiter did: the stripped JavaScript is kept in a private cache folder, one entry per file
 * and Node version, holding the source it was made from, so only the first process to see a
 * file pays for it and an edited file replaces its entry.
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
    return privateDir(join(process.env.XDG_CACHE_HOME || join(process.getBuiltinModule('node:os').homedir(), '.cache'), 'socketserver', name));
  } catch {
    return undefined; // every process compiles for itself
  }
}

/** Strip without the ExperimentalWarning stripTypeScriptTypes gives: it would break the JSON log on stderr. */
function strip(code: string): string {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below, called with process
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
 * A short file name for an entry's id. Not a digest: an entry holds the id and source it was
 * made from and is used only when both match, so a clash costs a strip, never a wrong file
 * (and node:crypto, loaded just for this, would cost every worker megabytes).
 */
function entryName(id: string): string {
  let a = 0x811c9dc5;
  let b = 0x6b43a9b5;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** An entry is `format \n length \n id \0 source javascript`: the JavaScript when id and source are `key`. */
function readEntry(file: string, key: string): { format: string; source: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // not yet
  }
  const first = text.indexOf('\n');
  const second = text.indexOf('\n', first + 1);
  if (first < 0 || second < 0 || Number(text.slice(first + 1, second)) !== key.length) return undefined;
  if (!text.startsWith(key, second + 1)) return undefined; // another Node, file or edit: strip again
  return { format: text.slice(0, first), source: text.slice(second + 1 + key.length) };
}

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
      // Named without the reload query: what a reload stripped, the workers it starts find.
      const id = `${process.version}\0${url.replace(/\?.*$/, '')}`;
      const file = join(dir, `${entryName(id)}.js`);
      const hit = readEntry(file, `${id}\0${source}`);
      if (hit) return { ...hit, shortCircuit: true };
      const result = next(url, context);
      const format = AS_JS[result.format ?? ''];
      if (!format) return result;
      const js = strip(source); // throws, as Node would, what strip-only mode cannot run
      try {
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, `${format}\n${id.length + 1 + source.length}\n${id}\0${source}${js}`, { mode: 0o600 });
        renameSync(tmp, file); // whole or not at all, for a process reading it now
      } catch { /* a full disk: next time */ }
      return { format, source: js, shortCircuit: true };
    },
  });
  return true;
}
