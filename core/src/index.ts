// What plugins, configs and clients import. Running servers (the arbiter, `serve`, the control
// socket) is `@socketserver/core/process`: a worker loads every module of the package it is
// handed, so what only an arbiter or the CLI needs stays out of here.
export {
  definePlugin, defineConfig, type PluginDef, type PluginSettings, type PluginCfg, type PluginApp, type PluginOptions, type HandlerOf, type Config, type ConfigFile,
} from './plugins/define.js';
export type { Protocol, ProtocolLink, ProtocolMode, Handler, HandlerResult } from './net/protocol.js';
export { CursorProtocol } from './net/cursor-protocol.js';
export { ProtocolError, UsageError, StartupError, RefusedError, type ErrorLocation } from './errors.js';
export { PubSub, type PubSubHooks } from './net/pubsub.js';
export { SettingsRegistry, firstSentence, type SettingDef, type Setting, type Source, type ResolvedSettings } from './config/registry.js';
export type { SettingType, PluginSpec } from './config/value-types.js';
export { parseBytes, parseSeconds } from './config/value-types.js';
export { settingsPage } from './config/settings-page.js';
export type { Cfg, CoreSettings } from './config/core-settings.js';
export { BUNDLED_PROTOCOLS } from './config/core-settings.js';
export { type Address, parseAddress, formatAddress, type AllowEntry, parseAllowEntry } from './address.js';
export { App, type Monitor, type Worker, type WorkerFigures, type Info, type InfoPlace, type InfoDocument, type ArbiterInfo, type MonitorInfo, type WorkerInfo, type HookTimesInfo, type TapTimeInfo, type RestartReason } from './plugins/app.js';
export type { Hooks, HookName, HookTimes, TapTime } from './plugins/hooks.js';
export { Connection, Request, MAX_IN_FLIGHT, type CloseReason } from './net/connection.js';
export { DATAGRAM_DROPS, type DatagramDrop, type DatagramStats, type Datagram } from './net/datagram.js';
export { ConnectionSet, CLOSE_REASONS, type ServerStats, type StatsSnapshot, type ClosedCounts, type FailedConnection, type AcceptCloseReason } from './net/connection-set.js';
export { DEFAULT_BUCKETS, type TimesSnapshot } from './net/request-times.js';
export { Cumulator } from './net/cumulator.js';
export { compileGlob, globMatch } from './net/glob.js';
export { Channels, type Framer, type PubSubStats } from './net/channels.js';
export { ProxyHeaderParser, crc32c, V2_SIGNATURE, type ProxyHeader, type ProxyParse, type ProxyMode, type ProxyTlvs, type ProxyEndpoint } from './net/proxy-header.js';
export { ProxyStage, type ProxyInfo } from './net/proxy-stage.js';
export { discover, discoverServers, coreRegistry, resolveSettings, type Discovery, type DiscoverOptions } from './plugins/discovery.js';
export type { LoadedPlugin } from './plugins/load-plugins.js';
export { pluginCandidates, type Resolution } from './plugins/resolve-plugin.js';
export { createHooks } from './plugins/hooks.js';
export { createLogger, droppedLogLines, logsWritten, type LogFormat, type Logger, type LogSink } from './logger.js';
export { version } from './version.js';
export { createClient, clientProtocol, decodeMessages, Client, type ClientOptions, type ClientProtocol, type ConnectOptions, type PushIterator } from './client/index.js';
