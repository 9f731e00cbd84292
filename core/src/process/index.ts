// `@socketserver/core/process`: running servers, for the CLI and programs that embed one.
export { serve, type Running, type StopMode } from './single-process.js';
export { AppServer } from './app-server.js';
export { ARBITER_SIGNALS, SINGLE_PROCESS_SIGNALS } from './signals.js';
export { Arbiter, type ArbiterOptions, supportsReusePort, defaultBalance } from './arbiter.js';
export { resized as resizedWorkers } from './arbiter.js';
export { controlDir, controlPath, requestInfo, runningServers } from './control-socket.js';
export { alive } from './pidfile.js';
export { inheritedSockets } from '../activation.js';
