/** Transactions (Redis 7.0's MULTI, EXEC, DISCARD, WATCH, UNWATCH): commands queued per connection, run together. */
import { NULL_ARRAY, error, simple, type Reply } from '@socketserver/plugin-resp';
import { OK, key, replicating, type CommandTable, type Context } from './command.js';
import { execute } from './commands.js';
import type { ClientState } from './server.js';

/** A connection's open transaction: the commands queued (copies: a request's arguments are views of its read). */
export interface Transaction {
  readonly queued: Buffer[][];
  /** A command was refused while queuing (unknown, wrong arity): EXEC discards the transaction. */
  failed: boolean;
}

/** The commands a connection in MULTI runs at once rather than queues. */
export const TRANSACTION_CONTROL: ReadonlySet<string> = new Set(['multi', 'exec', 'discard', 'watch', 'quit', 'reset']);

export const QUEUED = simple('QUEUED');
const EXECABORT = error('EXECABORT Transaction discarded because of previous errors.');

/** Queue a command of a connection in MULTI (its arguments copied). */
export function enqueue(tx: Transaction, args: Buffer[]): Reply {
  tx.queued.push(args.map((a) => Buffer.from(a)));
  return QUEUED;
}

/** EXEC: every queued command in turn, nothing else running meanwhile (one worker runs one command at a time); their replies. */
function exec(ctx: Context): Reply | Promise<Reply> {
  const client = ctx.client as ClientState;
  const tx = client.multi;
  if (tx === undefined) return error('ERR EXEC without MULTI');
  client.multi = undefined;
  const watch = client.watch;
  let changed = false;
  if (watch !== undefined) {
    changed = watch.dirty || ctx.store.watchedExpired(watch);
    unwatch(ctx);
  }
  if (tx.failed) return EXECABORT;
  if (changed) return NULL_ARRAY; // a watched key changed: nothing runs
  const replies = tx.queued.map((args) => execute(args, ctx) ?? null);
  // Replicas get the commands that changed something, not EXEC (in MULTI/EXEC when several: see Replication.flush).
  if (replicating(ctx)) ctx.store.propagateAs = [];
  // PUBLISH's count may wait for other workers: the array once every reply is known.
  return replies.some((r) => r instanceof Promise) ? Promise.all(replies.map(async (r) => r)) : (replies as Reply[]);
}

/** WATCH key…: EXEC fails if one of them changes (any connection's command, expiry, eviction, a flush) before it. */
function watch(a: Buffer[], ctx: Context): Reply {
  const client = ctx.client as ClientState;
  if (client.multi !== undefined) return error('ERR WATCH inside MULTI is not allowed');
  let w = client.watch;
  if (w === undefined) {
    w = client.watch = { dirty: false, keys: new Map() };
    // A connection that leaves watches nothing: its keys must not keep it.
    const watcher = w;
    ctx.connection?.socket.once('close', () => ctx.store.unwatch(watcher));
  }
  if (w.dirty) return OK; // already failed: nothing more to watch
  for (let i = 1; i < a.length; i++) ctx.store.watch(w, key(a[i]!));
  return OK;
}

/** Watch nothing more, and forget a change seen (EXEC, DISCARD, UNWATCH, RESET). */
export function unwatch(ctx: Context): void {
  const w = (ctx.client as ClientState).watch;
  if (w === undefined) return;
  ctx.store.unwatch(w);
  w.dirty = false;
}

export const TRANSACTIONS: CommandTable = {
  multi: {
    arity: 1,
    run: (_a, ctx) => {
      const client = ctx.client as ClientState;
      if (client.multi !== undefined) return error('ERR MULTI calls can not be nested');
      client.multi = { queued: [], failed: false };
      return OK;
    },
  },
  exec: { arity: 1, run: (_a, ctx) => exec(ctx) },
  discard: {
    arity: 1,
    run: (_a, ctx) => {
      const client = ctx.client as ClientState;
      if (client.multi === undefined) return error('ERR DISCARD without MULTI');
      client.multi = undefined;
      unwatch(ctx);
      return OK;
    },
  },
  watch: { arity: -2, run: watch },
  unwatch: {
    arity: 1,
    run: (_a, ctx) => {
      unwatch(ctx);
      return OK;
    },
  },
};
