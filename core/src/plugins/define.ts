/** What users write: a plugin (`definePlugin`) and a config file (`defineConfig`). */
import type { App } from './app.js';
import type { Cfg, coreSettings, NotInConfig } from '../config/core-settings.js';
import type { Handler, Protocol, ProtocolMode } from '../net/protocol.js';
import type { SettingDef } from '../config/registry.js';
import type { ConfigOf, SettingsOf } from '../config/setting-types.js';

/** The settings a plugin declares, by name (the key in `cfg` and in a config file). */
export type PluginSettings = Readonly<Record<string, SettingDef>>;

/** What a plugin's `protocol`, `client` and `handler` get: every setting, its own typed from its declarations. */
export type PluginCfg<S extends PluginSettings> = string extends keyof S ? Cfg : Cfg & SettingsOf<S>;

/** What a plugin's `apply` gets: the app, its `cfg` typed as in `PluginCfg`. */
export type PluginApp<S extends PluginSettings> = App & { readonly cfg: PluginCfg<S> };

/**
 * A plugin (docs/design.md §5): settings, an optional protocol and handler, and hook taps.
 * `S` is its settings' declarations, `M` and `R` the messages its protocol decodes and the
 * replies it encodes. The functions are methods (called without `this`) so that a plugin typed for its own settings
 * and messages is still a `PluginDef` (what the loader holds).
 */
export interface PluginDef<S extends PluginSettings = PluginSettings, M = unknown, R = unknown> {
  /** Names the plugin in errors, in `ss plugins` and as its taps' default name. */
  readonly name: string;
  readonly version?: string;
  /** Plugins that must be loaded too (checked at boot). */
  readonly dependencies?: readonly string[];
  readonly settings?: S;
  /**
   * Called once per connection, and once per datagram of a udp:// bind (`mode.datagram`): a
   * fresh protocol instance. The server always passes `mode`; it is optional for callers such as tests.
   */
  protocol?(this: void, cfg: PluginCfg<S>, mode?: ProtocolMode): Protocol<M, R>;
  /** The protocol a client of this server uses (encodes requests, decodes replies); default: protocol. */
  client?(this: void, cfg: PluginCfg<S>): Protocol<unknown, unknown>;
  /** Called once per process: the handler for every message. */
  handler?(this: void, cfg: PluginCfg<S>): Handler<M, R>;
  /** Tap hooks here. May be async; it has `plugin_timeout` to finish. */
  apply?(this: void, app: PluginApp<S>): void | Promise<void>;
}

/** A plugin's settings as a config file gives them, with it: `['line', { maxLine: '8kb' } satisfies PluginOptions<typeof line>]`. */
export type PluginOptions<P> = P extends { readonly settings?: infer S extends PluginSettings } ? ConfigOf<S> : never;

/** The handler of a protocol plugin's messages and replies: `const h: HandlerOf<typeof line> = (message) => ...` gets a Buffer. */
export type HandlerOf<P> = P extends { protocol?(cfg: never): Protocol<infer M, infer R> } ? Handler<M, R> : never;

const FUNCTIONS = ['protocol', 'client', 'handler', 'apply'] as const;

/** Why `value` is not a plugin, or undefined when it is one. */
export function pluginProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'the default export is not an object made with definePlugin({ name, ... })';
  const p = value as Record<string, unknown>;
  if (typeof p.name !== 'string' || !/^[\w@./-]+$/.test(p.name)) return 'it has no valid "name" (letters, digits, @ . / _ -)';
  for (const key of FUNCTIONS) {
    if (p[key] !== undefined && typeof p[key] !== 'function') return `"${key}" must be a function`;
  }
  if (p.settings !== undefined && (p.settings === null || typeof p.settings !== 'object')) return '"settings" must be an object';
  if (p.dependencies !== undefined && !(Array.isArray(p.dependencies) && p.dependencies.every((d) => typeof d === 'string'))) {
    return '"dependencies" must be a list of plugin names';
  }
  return undefined;
}

/** Declare a plugin; checks its shape at once so a mistake is reported where it is made. */
export function definePlugin<const S extends PluginSettings = Record<never, SettingDef>, M = unknown, R = unknown>(plugin: PluginDef<S, M, R>): PluginDef<S, M, R> {
  const problem = pluginProblem(plugin);
  if (problem) throw new TypeError(`definePlugin: ${problem}`);
  return Object.freeze(plugin);
}

/**
 * A config file's contents (docs/design.md §6), typed from the core settings' table: every core
 * setting but those that choose the config file. A handler may be the function itself.
 * Plugin settings go with their plugin: `['line', { maxLine: '8kb' }]`.
 */
export type Config = Omit<ConfigOf<typeof coreSettings>, NotInConfig | 'handler'> & {
  readonly handler?: string | Handler;
};

/** A config file: settings for one server, or shared settings plus `servers` by name (each a monitor with its own workers). */
export type ConfigFile = Config & {
  readonly servers?: Readonly<Record<string, Config>>;
};

/** Gives a config file its types: an unknown key, or a value of the wrong type, does not compile. */
export function defineConfig(config: ConfigFile): ConfigFile {
  return config;
}
