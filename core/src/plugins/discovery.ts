import { resolve } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/config-file.js';
import { coreSettings, NOT_IN_CONFIG } from '../config/core-settings.js';
import { UsageError } from '../errors.js';
import { loadPlugins, type LoadedPlugin } from './load-plugins.js';
import type { Resolution } from './resolve-plugin.js';
import type { PluginSpec } from '../config/value-types.js';
import { type Layers, type ResolvedSettings, SettingsRegistry } from '../config/registry.js';

export interface DiscoverOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The command line parsed so far, by long flag; only `config` and `plugin` are read here. */
  readonly cli: Readonly<Record<string, unknown>>;
  /** Folders the built-in plugins resolve from when the project has not installed them (the CLI's own). */
  readonly builtinDirs?: readonly string[];
  /** Import the plugins and the handler afresh, not from this process's module cache (a reload). */
  readonly fresh?: boolean;
  /**
   * What the arbiter already found (a worker's start): the config file (null: none) and each
   * plugin's module, so that the worker neither searches nor resolves again (nor loads the code
   * that does: about 9 MB of a worker's memory).
   */
  readonly found?: Found;
}

export interface Found {
  readonly configFile: string | null;
  readonly plugins: readonly Resolution[];
}

/** What start-up found: the config file, the plugins, and every setting they declare. */
export interface Discovery {
  readonly cwd: string;
  /** The server's key in the config's `servers`, or undefined for a single-server config. */
  readonly server: string | undefined;
  readonly registry: SettingsRegistry;
  readonly config: LoadedConfig | null;
  readonly plugins: readonly LoadedPlugin[];
  /** Modules (plugins, the handler) are imported afresh: see DiscoverOptions. */
  readonly fresh?: boolean;
  /** Settings layers for a command line: default < config file < environment < command line. */
  layers(cli: Readonly<Record<string, unknown>>): Layers;
}

/** A registry holding the core settings only. */
export function coreRegistry(): SettingsRegistry {
  const registry = new SettingsRegistry();
  registry.add('core', coreSettings);
  return registry;
}

/** Server names a config declares under `servers`, or null for a single-server config. */
function declaredServers(config: LoadedConfig | null): string[] | null {
  const servers = config?.config.servers;
  if (servers === undefined) return null;
  if (servers === null || typeof servers !== 'object' || Array.isArray(servers) || Object.keys(servers).length === 0) {
    throw new UsageError(`config ${config!.file}: invalid servers: expected an object of servers by name (servers: { echo: { plugins: ['echo'], bind: ':7000' } })`);
  }
  for (const [name, entry] of Object.entries(servers)) {
    if (!/^[\w.-]+$/.test(name)) throw new UsageError(`config ${config!.file}: invalid server name "${name}": letters, digits, _ . - only`);
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new UsageError(`config ${config!.file}: invalid servers.${name}: expected an object of settings`);
    }
  }
  return Object.keys(servers);
}

/** Settings that name one server's sockets and plugins: with several servers they go in each server's entry. */
const PER_SERVER = ['bind', 'plugins', 'name'] as const;

/**
 * Find the config file, load the plugins it (or the command line, or SS_PLUGIN) names,
 * and register their settings: one discovery per server (a config's `servers`, else one).
 * Values are checked later by `resolveSettings`, once the command line has been parsed
 * against every known flag. `only` picks one server by name (a worker's); so does `--name`.
 */
export async function discoverServers(opts: DiscoverOptions, only?: string): Promise<Discovery[]> {
  const boot = coreRegistry();
  const configSetting = boot.get('config')!;
  const configFile = boot.resolveOne(configSetting, { env: opts.env, cli: opts.cli }).value as string | undefined;
  const config = opts.found ? opts.found.configFile === null ? null : await loadConfig(opts.cwd, opts.found.configFile)
    : await loadConfig(opts.cwd, configFile === undefined ? undefined : resolve(opts.cwd, configFile));
  const names = declaredServers(config);
  if (names === null) return [await discoverServer(opts, config, undefined)];
  // `--name KEY` picks one server of several (ss serve, send, info, top for that one); its
  // --bind and --plugin then apply to that server alone.
  const picked = opts.cli.name;
  if (only === undefined && names.length > 1 && typeof picked === 'string') {
    if (!names.includes(picked)) throw new UsageError(`--name ${picked}: the config ${config!.file} declares servers ${names.join(', ')}; name one of them to use it alone`);
    only = picked;
  }
  if (names.length > 1 && only === undefined) {
    for (const key of PER_SERVER) {
      const setting = boot.get(key)!;
      const given = opts.cli[setting.long] !== undefined ? `--${setting.long}` : opts.env[setting.env] ? setting.env : undefined;
      if (given) throw new UsageError(`${given}: the config ${config!.file} declares servers ${names.join(', ')}; set ${key} in each server's entry`);
    }
  }
  if (only !== undefined && !names.includes(only)) throw new UsageError(`config ${config!.file}: no server "${only}" (servers: ${names.join(', ')})`);
  const out: Discovery[] = [];
  for (const name of only === undefined ? names : [only]) out.push(await discoverServer(opts, config, name));
  return out;
}

/** The one server of `opts` (for a config with `servers`, the first). */
export async function discover(opts: DiscoverOptions): Promise<Discovery> {
  return (await discoverServers(opts))[0]!;
}

async function discoverServer(opts: DiscoverOptions, config: LoadedConfig | null, server: string | undefined): Promise<Discovery> {
  const registry = coreRegistry();
  const bootLayers: Layers = { env: opts.env, cli: opts.cli };
  const { servers, ...top } = (config?.config ?? {}) as Record<string, unknown>;
  // A server's entry overrides the top level, which holds what all servers share; its key is its default name.
  const entries = server === undefined ? top : { ...top, name: server, ...(servers as Record<string, Record<string, unknown>>)[server] };

  const coreValues: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entries)) {
    const setting = registry.get(key);
    if (!setting || NOT_IN_CONFIG.has(key)) {
      const known = registry.all().filter((s) => !NOT_IN_CONFIG.has(s.name)).map((s) => s.name).join(', ');
      const where = server === undefined || !Object.hasOwn((servers as Record<string, object>)[server]!, key) ? '' : ` in servers.${server}`;
      throw new UsageError(`config ${config!.file}: unknown setting "${key}"${where} (core settings: ${known}; plugin settings go with the plugin: ['line', { maxLine: '8kb' }])`);
    }
    coreValues[key] = value;
  }
  const configLayer = config ? { file: config.file, values: coreValues } : undefined;
  const pluginsSetting = registry.get('plugins')!;
  const { value, source } = registry.resolveOne(pluginsSetting, { ...bootLayers, config: configLayer });
  const specs = value as PluginSpec[];

  // Options given with a plugin in the config apply whenever that plugin is loaded.
  const configOptions = new Map<string, Readonly<Record<string, unknown>>>();
  const configSpecs = config && Array.isArray(coreValues.plugins) ? registry.parse(pluginsSetting, coreValues.plugins, { kind: 'config', where: config.file }) as PluginSpec[] : [];
  for (const spec of configSpecs) if (typeof spec !== 'string') configOptions.set(spec[0], spec[1]);

  const baseDir = source.kind === 'config' ? config!.dir : opts.cwd;
  const fallbacks = [opts.cwd, ...(opts.builtinDirs ?? [])];
  const withOptions = specs.map((s): PluginSpec => (typeof s === 'string' && configOptions.has(s) ? [s, configOptions.get(s)!] : s));
  const plugins = await loadPlugins(withOptions, baseDir, fallbacks, opts.fresh, opts.found?.plugins);

  const pluginValues: Record<string, unknown> = {};
  for (const loaded of plugins) {
    registry.add(loaded.plugin.name, loaded.plugin.settings ?? {});
    for (const [key, v] of Object.entries(loaded.options)) {
      const setting = registry.get(key);
      if (!setting || setting.owner !== loaded.plugin.name) {
        const own = registry.ownedBy(loaded.plugin.name).map((s) => s.name).join(', ') || 'none';
        throw new UsageError(`config ${config?.file ?? ''}: plugin "${loaded.spec}" has no setting "${key}" (its settings: ${own})`);
      }
      pluginValues[key] = v;
    }
  }
  const values = { ...coreValues, ...pluginValues };
  return {
    cwd: opts.cwd,
    server,
    registry,
    config,
    plugins,
    fresh: opts.fresh,
    layers: (cli) => ({ env: opts.env, cli, config: config ? { file: config.file, values } : undefined }),
  };
}

/** Check and resolve every setting; a bad value is a `UsageError` naming the setting. */
export function resolveSettings(discovery: Discovery, cli: Readonly<Record<string, unknown>>): ResolvedSettings {
  return discovery.registry.resolve(discovery.layers(cli));
}
