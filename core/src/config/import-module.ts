import { readFileSync } from 'node:fs';
import { createRequire, SourceMap } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Jiti, TransformOptions, TransformResult } from 'jiti';
import { installTsHooks, privateCache, RELOAD } from './ts-cache.js';

const TS = /\.[cm]?tsx?$/;
let jiti: Jiti | undefined;
/** jiti's compiler (babel), loaded by us rather than by jiti so that it can be let go. */
let compiler: { transform: (opts: TransformOptions) => TransformResult; release: () => void } | undefined;

/**
 * Babel installs a global Error.prepareStackTrace on its first use (which keeps all of it
 * alive) and raises Error.stackTraceLimit for the whole process: what it changes during
 * its own calls is noted, and undone on release.
 */
function loadCompiler(): NonNullable<typeof compiler> {
  const require = createRequire(import.meta.resolve('jiti'));
  const path = require.resolve('../dist/babel.cjs');
  const babel = require(path) as (opts: TransformOptions) => TransformResult;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, never called here
  const original = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
  let installed: { prepare: typeof Error.prepareStackTrace; limit: number } | undefined;
  return {
    transform(opts) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, never called here
      const before = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
      try {
        return babel(opts);
      } finally {
        if (Error.prepareStackTrace !== before.prepare || Error.stackTraceLimit !== before.limit) {
          // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, never called here
          installed = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
        }
      }
    },
    release() {
      delete require.cache[path];
      if (installed && Error.prepareStackTrace === installed.prepare) Error.prepareStackTrace = original.prepare;
      if (installed && Error.stackTraceLimit === installed.limit) Error.stackTraceLimit = original.limit;
    },
  };
}

/**
 * Node ≥ 22.18 strips types itself (`process.features.typescript` is then 'strip'): an
 * `import()` of a .ts file costs no compiler at all, which keeps a serving worker small.
 * What it cannot run falls back to jiti; these errors all come at load or link time,
 * before any of the file's code has run, so loading it again through jiti runs it once.
 */
const NATIVE_TS = Boolean((process.features as { typescript?: unknown }).typescript);
const FALLBACK = new Set([
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', // enum, namespace, parameter properties
  'ERR_INVALID_TYPESCRIPT_SYNTAX', // jiti's message for a real syntax error is the one users know
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING', // .ts inside node_modules
  'ERR_MODULE_NOT_FOUND', // `./x.js` meaning ./x.ts, or an extensionless import
  'ERR_UNSUPPORTED_DIR_IMPORT',
  'ERR_UNKNOWN_FILE_EXTENSION',
]);
/** A type imported without `import type`: Node sees a missing export. */
const TYPE_ONLY_IMPORT = /does not provide an export named|Named export '[^']*' not found/;

function nativeCannot(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return (typeof e?.code === 'string' && FALLBACK.has(e.code)) ||
    (e?.name === 'SyntaxError' && typeof e.message === 'string' && TYPE_ONLY_IMPORT.test(e.message));
}

/** TypeScript files Node has imported itself: a fresh import of one needs the hooks' reload query, else goes through jiti. */
const nativelyLoaded = new Set<string>();
let generation = 0;

async function importTs(file: string, fresh: boolean): Promise<unknown> {
  const reload = fresh && nativelyLoaded.has(file);
  if (NATIVE_TS && !/x$/.test(file) && (installTsHooks() || !reload)) {
    try {
      const mod: unknown = await import(pathToFileURL(file).href + (reload ? `?${RELOAD}=${++generation}` : ''));
      nativelyLoaded.add(file);
      return mod;
    } catch (err) {
      if (!nativeCannot(err)) throw err;
    }
  }
  if (!jiti) {
    jitiRan = true;
    const { createJiti } = await import('jiti');
    // No cache in memory (a reload re-reads files). On disk, only in the user's private cache
    // folder (never beside the files: a read-only folder works): a worker that finds its
    // files there does not load the compiler at all.
    jiti = createJiti(import.meta.url, {
      fsCache: privateCache('jiti') ?? false, moduleCache: false, interopDefault: false,
      transform: (opts) => (compiler ??= loadCompiler()).transform(opts),
    });
  }
  jitiImported.add(file);
  return jiti.import(file);
}

/**
 * Import a module by absolute path. TypeScript files (and what they import) are loaded by
 * Node where it can strip their types, else transpiled by jiti, loaded only when needed;
 * what either made is kept in the user's private cache folder, never next to the files, so
 * a read-only folder works. Everything else is a native `import()`; `fresh` reads it again
 * even if this process imported it before.
 */
export async function importModule(file: string, { fresh = false } = {}): Promise<unknown> {
  // Node keeps every ES module it imported: a query makes a reload (HUP) read the file again.
  if (!TS.test(file)) return import(pathToFileURL(file).href + (fresh ? `?load=${++generation}` : ''));
  return importTs(file, fresh);
}

/**
 * Let go of the TypeScript compiler once start-up has loaded everything: it is about
 * 10 MB of live heap that every full GC of a serving process would otherwise mark.
 * A later TypeScript import loads it again.
 */
export function releaseCompiler(): void {
  compiler?.release();
  compiler = undefined;
  jiti = undefined;
}

/** Whether jiti has run code in this process; the files it was asked to import (the others it ran, they required). */
let jitiRan = false;
const jitiImported = new Set<string>();

/** What jiti 2 puts before a module's first line when it runs it: the first line's columns are shifted by it. */
function jitiWrapper(async: boolean): string {
  return `(${async ? 'async ' : ''}function (exports, require, module, __filename, __dirname, jitiImport, jitiESMResolve) { `;
}

/** The last file compiled again: an error's frames are often several in one file. */
let lastCompiled: { file: string; async: boolean; source: string; result: TransformResult } | undefined;

/** `file` compiled as jiti compiles it, with an inline source map: only for an error's location (it may load the compiler). */
function compileAgain(file: string, async: boolean): TransformResult {
  const source = readFileSync(file, 'utf8');
  const last = lastCompiled;
  if (last && last.file === file && last.async === async && last.source === source) return last.result;
  const loaded = compiler !== undefined;
  try {
    const result = (compiler ??= loadCompiler()).transform({
      source, filename: file, ts: TS.test(file), async, jsx: false, interopDefault: false,
      babel: { sourceFileName: file, sourceMaps: 'inline' },
    });
    lastCompiled = { file, async, source, result };
    return result;
  } finally {
    if (!loaded) {
      compiler?.release(); // as it was: let go (a reload that failed leaves a server running)
      compiler = undefined;
    }
  }
}

/**
 * Where line:column of the code jiti ran for the TypeScript `file` is in `file` itself: jiti
 * keeps the lines of a file but not their columns. Undefined when jiti ran no code here (a file
 * Node stripped keeps both) or the place is not in its map. Compiles the file again.
 */
export function jitiPosition(file: string, line: number, column: number): { line: number; column: number } | undefined {
  if (!jitiRan || !TS.test(file)) return undefined;
  const async = jitiImported.has(file);
  const map = /\/\/# sourceMappingURL=data:application\/json;charset=utf-8;base64,(\S+)\s*$/.exec(compileAgain(file, async).code)?.[1];
  if (map === undefined) return undefined;
  const shift = line === 1 ? jitiWrapper(async).length : 0;
  const entry = new SourceMap(JSON.parse(Buffer.from(map, 'base64').toString('utf8')) as ConstructorParameters<typeof SourceMap>[0])
    .findEntry(line - 1, column - 1 - shift) as { generatedLine?: number; originalLine?: number; originalColumn?: number };
  return entry.generatedLine !== line - 1 || entry.originalLine === undefined ? undefined : { line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}

/**
 * Where the parser finds a syntax error in `file` (line and column from 1): Node's SyntaxError for
 * an ES module it cannot parse names no place. Undefined when the file parses.
 */
export function syntaxErrorPosition(file: string): { line: number; column: number } | undefined {
  let error: unknown;
  try {
    error = compileAgain(file, true).error;
  } catch {
    return undefined; // unreadable
  }
  const loc = (error as { loc?: { line?: unknown; column?: unknown } } | undefined)?.loc;
  return typeof loc?.line === 'number' && typeof loc.column === 'number' ? { line: loc.line, column: loc.column + 1 } : undefined;
}

/** The default export of a module namespace, or the module itself. */
export function defaultExport(mod: unknown): unknown {
  if (mod !== null && typeof mod === 'object' && 'default' in mod) return (mod as { default: unknown }).default;
  return mod;
}
