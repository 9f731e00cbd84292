// `@socketserver/core/process`: running servers, for the CLI and programs that embed one.
export { serve, SIGNALS, type Running, type StopMode } from './single-process.js';
export { Arbiter, ARBITER_SIGNALS, type ArbiterOptions, supportsReusePort, defaultBalance } from './arbiter.js';
export { resized as resizedWorkers } from './arbiter.js';
export { controlDir, controlPath, requestInfo, runningServers } from './control-socket.js';
export { alive } from './pidfile.js';
export { inheritedSockets } from '../activation.js';
