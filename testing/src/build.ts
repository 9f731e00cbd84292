import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import {
  discover, resolveSettings, UsageError, type Discovery, type Handler, type PluginSpec, type ResolvedSettings, type Resolution,
} from '@socketserver/core';

/** A plugin object, what definePlugin returns however its settings and messages are typed (checked as the loader checks a module's). */
export interface PluginObject {
  readonly name: string;
  readonly settings?: object;
}

/** A plugin as a test names it: a name or path (resolved like --plugin from `cwd`), a plugin object, either with settings. */
export type PluginEntry = string | PluginObject | readonly [string | PluginObject, Readonly<Record<string, unknown>>];

export interface BuildOptions {
  readonly plugins: readonly PluginEntry[];
  /** A function, or a module path (from `cwd`) whose default export is one, like --handler. */
  readonly handler?: Handler | string;
  /** Settings by name, as in a config file (`keep_alive`, `maxLine`); camelCase (`keepAlive`) and flags (`keep-alive`) do too. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Where plugin names and paths resolve from; default the working directory. */
  readonly cwd?: string;
}

/** The `@socketserver/cli` a project has (from `cwd`, else the one beside this package): its folder and its `ss` script. */
export function findCli(cwd: string): { dir: string; bin: string } | undefined {
  for (const from of [join(cwd, 'noop.js'), import.meta.url]) {
    let file: string;
    try {
      file = createRequire(from).resolve('@socketserver/cli/package.json');
    } catch {
      continue;
    }
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.ss;
    if (bin !== undefined) return { dir: dirname(file), bin: resolve(dirname(file), bin) };
  }
  return undefined;
}

/** Each entry as the loader takes it (a name, or a name with options), and the plugin objects among them, as found already. */
function specsOf(entries: readonly PluginEntry[]): { specs: PluginSpec[]; given: Resolution[]; options: Record<string, unknown> } {
  if (!Array.isArray(entries) || entries.length === 0) throw new UsageError('plugins: name at least one plugin (a name, a path or a plugin object)');
  const given: Resolution[] = [];
  const options: Record<string, unknown> = {};
  const specs = entries.map((entry): PluginSpec => {
    const [plugin, opts] = Array.isArray(entry) ? entry as unknown as readonly [string | PluginObject, Readonly<Record<string, unknown>>] : [entry as string | PluginObject, undefined];
    let name: string;
    if (typeof plugin === 'string') name = plugin;
    else {
      name = (plugin as Partial<PluginObject> | null)?.name as string;
      if (typeof name !== 'string') throw new UsageError('plugins: an entry is neither a name nor a plugin object made with definePlugin({ name, ... })');
      given.push({ name, file: `(plugin object "${name}")`, plugin });
    }
    Object.assign(options, opts);
    return opts === undefined ? name : [name, opts];
  });
  return { specs, given, options };
}

/** `settings` as command-line values, by each setting's long flag: what `ss serve --flag value` would say. */
function asFlags(discovery: Discovery, settings: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const all = discovery.registry.all();
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const setting = all.find((s) => s.name === key) ?? all.find((s) => s.name === snake || s.long === key);
    if (setting === undefined) {
      const plugins = [...new Set(all.filter((s) => s.owner !== 'core').map((s) => s.name))];
      throw new UsageError(`unknown setting "${key}": not a core setting${plugins.length ? ` nor one of the plugins' (${plugins.join(', ')})` : ', and the plugins declare none'}`);
    }
    flags[setting.long] = value;
  }
  return flags;
}

export interface Built {
  readonly discovery: Discovery;
  readonly settings: ResolvedSettings;
  /** The command line that serves the same: the plugins' names and every setting by its flag. */
  readonly cli: Readonly<Record<string, unknown>>;
}

/**
 * Find the plugins and resolve the settings as `ss serve` would with them on its command line:
 * from `cwd`, built-in plugins from the project's @socketserver/cli. No config file is read, and
 * no SS_* variable: a test says all it sets.
 */
export async function build(options: BuildOptions, defaults: Readonly<Record<string, unknown>> = {}): Promise<Built> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const { specs, given, options: pluginOptions } = specsOf(options.plugins);
  const cli = findCli(cwd);
  const discovery = await discover({
    cwd, env: {}, cli: { plugin: specs }, builtinDirs: cli ? [cli.dir] : [], found: { configFile: null, plugins: given },
  });
  const flags: Record<string, unknown> = { plugin: specs, ...asFlags(discovery, { ...defaults, ...pluginOptions, ...options.settings }) };
  if (options.handler !== undefined) flags.handler = options.handler;
  return { discovery, settings: resolveSettings(discovery, flags), cli: flags };
}
