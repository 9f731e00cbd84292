/** Transactions (Redis 7.0's MULTI, EXEC, DISCARD; WATCH is not kept): commands queued per connection, run together. */
import { error, simple, type Reply } from '@socketserver/plugin-resp';
import { OK, type CommandTable, type Context } from './command.js';
import { execute } from './commands.js';
import type { ClientState } from './server.js';

/** A connection's open transaction: the commands queued (copies: a request's arguments are views of its read). */
export interface Transaction {
  readonly queued: Buffer[][];
  /** A command was refused while queuing (unknown, wrong arity): EXEC discards the transaction. */
  failed: boolean;
}

/** The commands a connection in MULTI runs at once rather than queues. */
export const TRANSACTION_CONTROL: ReadonlySet<string> = new Set(['multi', 'exec', 'discard', 'quit', 'reset']);

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
  if (tx.failed) return EXECABORT;
  const replies = tx.queued.map((args) => execute(args, ctx) ?? null);
  // PUBLISH's count may wait for other workers: the array once every reply is known.
  return replies.some((r) => r instanceof Promise) ? Promise.all(replies.map(async (r) => r)) : (replies as Reply[]);
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
      return OK;
    },
  },
};
