import { definePlugin } from '@socketserver/core';

/** What {{name}} counts in one process. */
export interface Counts {
  connections: number;
  requests: number;
}

/**
 * The {{name}} hook plugin: counts the connections and requests each worker serves and adds
 * them to `ss info`. Every process applies it, so each worker has its own counts.
 */
export default definePlugin({
  name: '{{name}}',
  apply(app) {
    const counts: Counts = { connections: 0, requests: 0 };
    // Per-request hooks are synchronous and on every message's path: keep their taps short.
    app.hooks.connectionMade.tap('{{name}}', () => { counts.connections++; });
    app.hooks.postRequest.tap('{{name}}', () => { counts.requests++; });
    // A worker's entry in `ss info` (and `ss info --json`) gets a "{{name}}" key; the arbiter serves nothing.
    app.hooks.info.tap('{{name}}', (info, place) => (place === 'worker' ? { ...info, '{{name}}': { ...counts } } : info));
  },
});
