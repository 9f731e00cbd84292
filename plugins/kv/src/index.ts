import { getHeapStatistics } from 'node:v8';
import { definePlugin } from '@socketserver/core';
import type { Reply } from '@socketserver/plugin-resp';
import { execute } from './commands.js';
import type { Context } from './command.js';
import { POLICIES, Store } from './store.js';
import { configOf } from './config.js';
import { parseEvents } from './notify.js';

export { Store, Entry, MAX_KEYS, KEY_OVERHEAD, EXPIRE_OVERHEAD, POLICIES, bytesOf, typeOf, type Collection, type Value, type Policy, type StoreOptions } from './store.js';
export { WRONGTYPE, type Command, type CommandTable } from './command.js';
export { globMatch, compileGlob } from '@socketserver/core';
export { dumpPayload, rdbFile, restoreValue, verifyPayload, RDB_VERSION, type RdbOptions } from './rdb.js';
export { crc64 } from './crc64.js';
export { lzfCompress, lzfDecompress } from './lzf.js';
export { ListpackWriter, readListpack, readZiplist, readIntset, writeIntset } from './listpack.js';
export { execute, parseInt64, parseSetOptions, unknownCommand, COMMANDS, OK, OOM, type Context } from './commands.js';

/** How often the active expire cycle runs, and the share of that time it may take (Redis: 10 Hz, 25%). */
const EXPIRE_CYCLE_MS = 100;
const EXPIRE_CYCLE_BUDGET_MS = 25;

/**
 * The default maxmemory: a quarter of V8's heap limit, so that the store is refused (-OOM) before
 * the heap runs out. The limit counts the young generation too, which newer V8s size large (on
 * Node 24, `--max-old-space-size=96` gives a 288 MiB limit), and the per-key estimate is not exact.
 */
export function defaultMaxmemory(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4);
}

/** --notify-keyspace-events: Redis's class letters only. */
function eventClasses(text: string): string {
  if (parseEvents(text) === undefined) throw new Error("event classes among the letters 'Ag$lshzxeKEtmdn'");
  return text;
}

export default definePlugin({
  name: 'kv',
  dependencies: ['resp'],
  settings: {
    maxmemory: {
      flags: ['--maxmemory'], type: 'bytes', min: 0, meta: 'BYTES', section: 'kv',
      desc: 'Most memory the key space may take, estimated per key (key + value + overhead); 0: no limit. '
        + 'Default: a quarter of the V8 heap limit (`--max-old-space-size`), so that the store answers -OOM before the heap runs out. '
        + 'Over it, commands that add memory (SET, MSET, INCR…) evict keys by `--maxmemory-policy` or get '
        + "`-OOM command not allowed when used memory > 'maxmemory'.`",
    },
    maxmemoryPolicy: {
      flags: ['--maxmemory-policy'], type: 'enum', choices: POLICIES, default: 'noeviction', section: 'kv',
      desc: 'What happens at `--maxmemory`: `noeviction` refuses writes that add memory with -OOM; '
        + '`allkeys-lru` evicts the least recently used keys, `volatile-lru` those with an expiry (sampled, as Redis).',
    },
    notifyKeyspaceEvents: {
      flags: ['--notify-keyspace-events'], type: 'string', meta: 'CLASSES', section: 'kv',
      desc: "Keyspace notifications at start, as Redis's notify-keyspace-events (`KEA`, `Ex`…; CONFIG SET changes it in the "
        + 'worker of the connection only): events published on `__keyspace@0__:<key>` and `__keyevent@0__:<event>`.',
      validate: eventClasses,
    },
  },
  handler: (cfg) => {
    // One store per process (each worker has its own); one unref'd timer for the expire cycle.
    const store = new Store({ maxmemory: cfg.maxmemory ?? defaultMaxmemory(), policy: cfg.maxmemoryPolicy });
    const startedAt = Date.now();
    setInterval(() => store.activeExpireCycle(Date.now(), EXPIRE_CYCLE_BUDGET_MS), EXPIRE_CYCLE_MS).unref();
    // One context per connection, made on its first request: nothing is allocated per request.
    const contexts = new WeakMap<object, Context>();
    // Keyspace notifications go out on the server's channels, known from the first connection.
    const notifier = configOf(store).notifier;
    notifier.events = parseEvents(cfg.notifyKeyspaceEvents ?? '')!;
    return (args: Buffer[], request): Reply | Promise<Reply> | undefined => {
      const conn = request.connection;
      if (!('socket' in conn)) throw new Error('kv serves connections, not datagrams (udp://)');
      let ctx = contexts.get(conn);
      if (ctx === undefined) {
        ctx = { store, clientId: conn.id, client: {}, port: conn.socket.localPort ?? 0, startedAt, connection: conn };
        contexts.set(conn, ctx);
        if (notifier.pubsub === undefined) {
          try {
            notifier.pubsub = conn.pubsub;
          } catch {
            // a server without pub/sub (embedded): no notification can reach anyone
          }
        }
      }
      return execute(args, ctx);
    };
  },
});
