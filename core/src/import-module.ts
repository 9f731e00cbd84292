import { pathToFileURL } from 'node:url';
import type { Jiti } from 'jiti';

const TS = /\.[cm]?tsx?$/;
let jiti: Jiti | undefined;

/**
 * Import a module by absolute path. TypeScript files (and what they import) are
 * transpiled in memory by jiti, loaded only when needed: nothing is written next to
 * them, so a read-only folder works. Everything else is a native `import()`.
 */
export async function importModule(file: string): Promise<unknown> {
  if (!TS.test(file)) return import(pathToFileURL(file).href);
  if (!jiti) {
    const { createJiti } = await import('jiti');
    // No cache on disk (read-only folders) and none in memory (a reload re-reads files).
    jiti = createJiti(import.meta.url, { fsCache: false, moduleCache: false, interopDefault: false });
  }
  return jiti.import(file);
}

/** The default export of a module namespace, or the module itself. */
export function defaultExport(mod: unknown): unknown {
  if (mod !== null && typeof mod === 'object' && 'default' in mod) return (mod as { default: unknown }).default;
  return mod;
}
