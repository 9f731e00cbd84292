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
    const clients = new WeakMap<object, { name?: Buffer }>();
    return (args: Buffer[], request): Reply => {
      const conn = request.connection;
      let client = clients.get(conn);
      if (client === undefined) clients.set(conn, (client = {}));
      const ctx: Context = { store, clientId: conn.id, client, port: conn.socket.localPort ?? 0, startedAt };
      return execute(args, ctx);
    };
  },
});
