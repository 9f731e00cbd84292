import { StartupError, UsageError } from '../errors.js';
import { defaultExport, importModule } from '../config/import-module.js';
import { errorLocation, firstLine } from '../config/error-location.js';
import { pluginProblem, type PluginDef } from './define.js';
import { resolvePlugin, type Resolution } from './resolve-plugin.js';
import type { PluginSpec } from '../config/value-types.js';

export interface LoadedPlugin {
  /** The name or path as configured. */
  readonly spec: string;
  /** Options given with it in a config file: `['line', { maxLine: '8kb' }]`. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly resolution: Resolution;
  readonly plugin: PluginDef;
}

/**
 * Resolve, import and check the configured plugins, in order. Names must be unique
 * and every declared dependency loaded (checked here, at boot, like Fastify).
 * `fresh` (a reload) reads each plugin's module again rather than reuse the one imported before;
 * `known` are resolutions found before (by the arbiter, for a worker), used as they are.
 */
export async function loadPlugins(specs: readonly PluginSpec[], baseDir: string, fallbackDirs: readonly string[], fresh = false,
  known: readonly Resolution[] = []): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const spec of specs) {
    const [name, options] = typeof spec === 'string' ? [spec, {}] : spec;
    const resolution = known.find((r) => r.name === name) ?? await resolvePlugin(name, baseDir, fallbackDirs);
    let mod: unknown;
    try {
      mod = resolution.plugin ?? await importModule(resolution.file, { fresh });
    } catch (err) {
      throw new StartupError(`plugin "${name}" (${resolution.file}) failed to load: ${firstLine(err)}`,
        { location: errorLocation(err, resolution.file) });
    }
    const plugin = defaultExport(mod);
    const problem = pluginProblem(plugin);
    if (problem) throw new UsageError(`plugin "${name}" (${resolution.file}): ${problem}`);
    loaded.push({ spec: name, options, resolution, plugin: plugin as PluginDef });
  }
  const names = new Map<string, string>();
  for (const { spec, plugin } of loaded) {
    const other = names.get(plugin.name);
    if (other !== undefined) throw new UsageError(`plugin "${plugin.name}" is loaded twice (as "${other}" and "${spec}")`);
    names.set(plugin.name, spec);
  }
  for (const { plugin } of loaded) {
    for (const dep of plugin.dependencies ?? []) {
      if (!names.has(dep)) throw new UsageError(`plugin "${plugin.name}" needs plugin "${dep}", which is not loaded (add --plugin ${dep})`);
    }
  }
  return loaded;
}
