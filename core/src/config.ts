import { dirname } from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { UsageError, errorMessage } from './errors.js';
import { defaultExport, importModule } from './import-module.js';
import type { Handler } from './protocol.js';

/** A config file's contents (design §6). Plugin settings go with their plugin: `['line', { maxLine: '8kb' }]`. */
export interface Config {
  bind?: string | readonly string[];
  backlog?: number | string;
  keep_alive?: number | string;
  graceful_timeout?: number | string;
  name?: string;
  plugins?: ReadonlyArray<string | readonly [string, Readonly<Record<string, unknown>>]>;
  handler?: string | Handler;
  plugin_timeout?: number | string;
  log_level?: 'debug' | 'info' | 'warn' | 'error';
  workers?: number | string;
  concurrency?: 'process' | 'thread';
  balance?: 'auto' | 'round-robin' | 'reuse-port';
  timeout?: number | string;
  max_requests?: number | string;
  max_requests_jitter?: number | string;
  pidfile?: string;
}

/** A config file: settings for one server, or shared settings plus `servers` by name (each a monitor with its own workers). */
export interface ConfigFile extends Config {
  servers?: Readonly<Record<string, Config>>;
}

/** Gives a config file its types. */
export function defineConfig<const C extends ConfigFile>(config: C): C {
  return config;
}

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
