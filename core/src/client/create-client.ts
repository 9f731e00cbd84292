import { coreRegistry } from '../plugins/discovery.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { UsageError } from '../errors.js';
import { BUNDLED_PROTOCOLS, type Cfg } from '../config/core-settings.js';
import type { PluginDef } from '../plugins/define.js';
import { Client, type ClientProtocol, type ConnectOptions } from './connection.js';

export interface ClientOptions<Req = unknown, Rep = unknown> extends ConnectOptions {
  /** A plugin name or path, resolved like `--plugin` (from `cwd`, then `pluginDirs`). */
  readonly plugin?: string;
  /** A protocol factory, instead of `plugin`: it decodes replies (`Rep`) and encodes requests (`Req`). */
  readonly protocol?: () => ClientProtocol<Rep, Req>;
  /** The plugin's settings by name (`{ maxLine: '8kb' }`), over its defaults. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Where a relative plugin path or a package name resolves from; default the working directory. */
  readonly cwd?: string;
  /** More folders to resolve plugin packages from. */
  readonly pluginDirs?: readonly string[];
}

/** The protocol a client of `plugin`'s server uses: its `client(cfg)`, else its `protocol(cfg)`. */
export function clientProtocol(plugin: PluginDef, cfg: Cfg): ClientProtocol {
  const make = plugin.client ?? plugin.protocol;
  if (!make) throw new UsageError(`plugin "${plugin.name}" has no protocol: a client needs a protocol plugin (${BUNDLED_PROTOCOLS})`);
  return make(cfg);
}

/** Load `name` and resolve its settings (defaults < `settings`), as `ss serve --plugin name` would. */
async function pluginFactory(options: ClientOptions): Promise<() => ClientProtocol> {
  const cwd = options.cwd ?? process.cwd();
  const [loaded] = await loadPlugins([options.plugin!], cwd, [cwd, ...(options.pluginDirs ?? [])]);
  const plugin = loaded!.plugin;
  const registry = coreRegistry();
  registry.add(plugin.name, plugin.settings ?? {});
  const given = options.settings ?? {};
  for (const key of Object.keys(given)) {
    if (registry.get(key)?.owner !== plugin.name) {
      const own = registry.ownedBy(plugin.name).map((s) => s.name).join(', ') || 'none';
      throw new UsageError(`plugin "${plugin.name}" has no setting "${key}" (its settings: ${own})`);
    }
  }
  const cfg = registry.resolve({ config: { file: 'createClient settings', values: given } }).values as Cfg;
  clientProtocol(plugin, cfg); // fail now, not at the first connect, when it has no protocol
  return () => clientProtocol(plugin, cfg);
}

/**
 * Connect to a server: `plugin` (or a `protocol` factory) says how requests are encoded
 * and replies decoded. Resolves once connected. `Req` and `Rep` default to what the byte
 * protocols (echo, line, netstring) send and receive; name them for another (RESP's client:
 * `createClient<string[], Reply>`).
 */
export async function createClient<Req = string | Uint8Array, Rep = Buffer>(options: ClientOptions<NoInfer<Req>, NoInfer<Rep>>): Promise<Client<Req, Rep>> {
  if ((options.plugin === undefined) === (options.protocol === undefined)) {
    throw new UsageError('createClient: give either plugin (a name or path) or protocol (a factory)');
  }
  // A plugin named by the caller is loaded at run time: its messages' types are the caller's word.
  const factory = options.protocol ?? await pluginFactory(options) as () => ClientProtocol<Rep, Req>;
  return Client.connect<Req, Rep>(factory(), options);
}
