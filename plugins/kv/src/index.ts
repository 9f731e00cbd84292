import { definePlugin } from '@socketserver/core';
import type { Reply } from '@socketserver/plugin-resp';
import { execute, type Context } from './commands.js';
import { Store } from './store.js';

export { Store } from './store.js';
export { globMatch } from './glob.js';
export { execute, parseInt64, parseSetOptions, unknownCommand, COMMANDS, type Context } from './commands.js';

/** How often the sweep looks for expired keys that nobody reads (lazy expiry does the rest). */
const SWEEP_MS = 100;

export default definePlugin({
  name: 'kv',
  dependencies: ['resp'],
  handler: () => {
    // One store per process (each worker has its own); one unref'd timer to sweep it.
    const store = new Store();
    const startedAt = Date.now();
    setInterval(() => store.sweep(), SWEEP_MS).unref();
    // One context per connection, made on its first request: nothing is allocated per request.
    const contexts = new WeakMap<object, Context>();
    return (args: Buffer[], request): Reply => {
      const conn = request.connection;
      let ctx = contexts.get(conn);
      if (ctx === undefined) {
        ctx = { store, clientId: conn.id, client: {}, port: conn.socket.localPort ?? 0, startedAt };
        contexts.set(conn, ctx);
      }
      return execute(args, ctx);
    };
  },
});
