import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Jiti, TransformOptions, TransformResult } from 'jiti';

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
  const original = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
  let installed: { prepare: typeof Error.prepareStackTrace; limit: number } | undefined;
  return {
    transform(opts) {
      const before = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
      try {
        return babel(opts);
      } finally {
        if (Error.prepareStackTrace !== before.prepare || Error.stackTraceLimit !== before.limit) {
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
 * Import a module by absolute path. TypeScript files (and what they import) are
 * transpiled in memory by jiti, loaded only when needed: nothing is written next to
 * them, so a read-only folder works. Everything else is a native `import()`; `fresh`
 * reads it again even if this process imported it before.
 */
let generation = 0;
export async function importModule(file: string, { fresh = false } = {}): Promise<unknown> {
  // Node keeps every ES module it imported: a query makes a reload (HUP) read the file again.
  if (!TS.test(file)) return import(pathToFileURL(file).href + (fresh ? `?load=${++generation}` : ''));
  if (!jiti) {
    const { createJiti } = await import('jiti');
    // No cache on disk (read-only folders) and none in memory (a reload re-reads files).
    jiti = createJiti(import.meta.url, {
      fsCache: false, moduleCache: false, interopDefault: false,
      transform: (opts) => (compiler ??= loadCompiler()).transform(opts),
    });
  }
  return jiti.import(file);
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

/** The default export of a module namespace, or the module itself. */
export function defaultExport(mod: unknown): unknown {
  if (mod !== null && typeof mod === 'object' && 'default' in mod) return (mod as { default: unknown }).default;
  return mod;
}
