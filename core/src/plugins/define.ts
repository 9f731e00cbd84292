/** What users write: a plugin (`definePlugin`) and a config file (`defineConfig`). */
import type { App } from './app.js';
import type { Cfg } from '../config/core-settings.js';
import type { Handler, Protocol } from '../net/protocol.js';
import type { SettingDef } from '../config/registry.js';

/** A plugin (docs/design.md §5): settings, an optional protocol and handler, and hook taps. */
export interface PluginDef {
  /** Names the plugin in errors, in `ss plugins` and as its taps' default name. */
  readonly name: string;
  readonly version?: string;
  /** Plugins that must be loaded too (checked at boot). */
  readonly dependencies?: readonly string[];
  readonly settings?: Readonly<Record<string, SettingDef>>;
  /** Called once per connection: a fresh protocol instance. */
  readonly protocol?: (cfg: Cfg) => Protocol<any, any>;
  /** The protocol a client of this server uses (encodes requests, decodes replies); default: protocol. */
  readonly client?: (cfg: Cfg) => Protocol<any, any>;
  /** Called once per process: the handler for every message. */
  readonly handler?: (cfg: Cfg) => Handler;
  /** Tap hooks here. May be async; it has `plugin_timeout` to finish. */
  readonly apply?: (app: App) => void | Promise<void>;
}

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
export function definePlugin<const P extends PluginDef>(plugin: P): P {
  const problem = pluginProblem(plugin);
  if (problem) throw new TypeError(`definePlugin: ${problem}`);
  return Object.freeze(plugin);
}

/** A config file's contents (docs/design.md §6). Plugin settings go with their plugin: `['line', { maxLine: '8kb' }]`. */
export interface Config {
  bind?: string | readonly string[];
  backlog?: number | string;
  keep_alive?: number | string;
  frame_timeout?: number | string;
  graceful_timeout?: number | string;
  accept_grace?: number | string;
  name?: string;
  plugins?: ReadonlyArray<string | readonly [string, Readonly<Record<string, unknown>>]>;
  handler?: string | Handler;
  plugin_timeout?: number | string;
  log_level?: 'debug' | 'info' | 'warn' | 'error';
  log_format?: 'auto' | 'pretty' | 'json';
  workers?: number | string;
  concurrency?: 'process' | 'thread';
  balance?: 'auto' | 'shared' | 'round-robin' | 'reuse-port';
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
