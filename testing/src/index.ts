// The plugin author's testing kit: `inject` drives a server in this process without sockets;
// `startServer` runs the real `ss` for a test and stops it when the test ends.
export { inject, createApp, type InjectOptions, type InjectInput, type Injected, type LogRecord } from './inject.js';
export { startServer, type StartOptions, type StartedServer } from './start-server.js';
export type { BuildOptions, PluginEntry, PluginObject } from './build.js';
export type { HookCall } from './record.js';
export { FakeSocket } from './fake-socket.js';
export { SsProcess, type LogLine, type Exit } from './ss-process.js';
