import { dirname } from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
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

const explorer = cosmiconfig('socketserver', {
  searchStrategy: 'none',
  cache: false,
  loaders: { '.ts': loadModule, '.mts': loadModule, '.cts': loadModule, '.js': loadModule, '.mjs': loadModule },
});

/** Load the named config file, or search the working directory. Null when there is none. */
export async function loadConfig(cwd: string, file?: string): Promise<LoadedConfig | null> {
  let result;
  try {
    result = file ? await explorer.load(file) : await explorer.search(cwd);
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
