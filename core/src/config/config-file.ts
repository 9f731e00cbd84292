import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Loader, PublicExplorer } from 'cosmiconfig';
import { UsageError, errorMessage } from '../errors.js';
import { defaultExport, importModule } from './import-module.js';

export interface LoadedConfig {
  readonly file: string;
  readonly dir: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** An error's message on one line, without code frames (jiti puts file:line:column on a line of its own). */
function oneLine(err: unknown): string {
  return errorMessage(err).split('\n').map((l) => l.trim())
    .filter((l) => l !== '' && !/^(>|\||\d+\s*\|)/.test(l)).join(' ');
}

const NOT_AN_OBJECT = 'expected an object of settings (export default defineConfig({ ... }))';

const loadModule: Loader = async (file) => {
  let mod: unknown;
  try {
    mod = await importModule(file, { fresh: true });
  } catch (err) {
    throw new UsageError(`config ${file}: ${oneLine(err)}`);
  }
  const config = defaultExport(mod);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new UsageError(`config ${file}: ${NOT_AN_OBJECT}`);
  return config;
};

/** Config files that are modules: loaded by import, with no need for cosmiconfig. */
const MODULE = /\.(?:[cm]?ts|m?js)$/;

/** cosmiconfig, loaded only to search for a config or to read a JSON or YAML one (a worker is handed a module's path). */
let explorer: PublicExplorer | undefined;
async function getExplorer(): Promise<PublicExplorer> {
  const { cosmiconfig } = await import('cosmiconfig');
  return explorer ??= cosmiconfig('socketserver', {
    searchStrategy: 'none',
    cache: false,
    loaders: { '.ts': loadModule, '.mts': loadModule, '.cts': loadModule, '.js': loadModule, '.mjs': loadModule },
  });
}

/** Load the named config file, or search the working directory. Null when there is none. */
export async function loadConfig(cwd: string, file?: string): Promise<LoadedConfig | null> {
  if (file !== undefined && MODULE.test(file)) {
    if (!existsSync(file)) throw new UsageError(`config ${file}: no such file`);
    return { file, dir: dirname(file), config: await loadModule(file, '') as Record<string, unknown> };
  }
  let result;
  try {
    const found = await getExplorer();
    result = file ? await found.load(file) : await found.search(cwd);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // cosmiconfig's own errors (JSON and YAML) name the file they were reading.
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : oneLine(err);
    throw new UsageError(file ? `config ${file}: ${reason}` : `config: ${reason}`);
  }
  if (!result || result.isEmpty) return result ? { file: result.filepath, dir: dirname(result.filepath), config: {} } : null;
  const config: unknown = result.config;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new UsageError(`config ${result.filepath}: ${NOT_AN_OBJECT}`);
  }
  return { file: result.filepath, dir: dirname(result.filepath), config: config as Record<string, unknown> };
}
