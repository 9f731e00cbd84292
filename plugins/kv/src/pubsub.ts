/** Redis's pub/sub commands over RESP2 (Redis 7.0), on the server's channels (`connection.pubsub`). */
import type { Connection, Framer } from '@socketserver/core';
import { error, type Reply } from '@socketserver/plugin-resp';
import { replicating, unknownSubcommand, type CommandTable, type Context } from './command.js';

/** `message` and `pmessage` arrays, as Redis pushes them; one function, so a publish encodes once for all. */
export const respFramer: Framer = (message, channel, pattern) =>
  (pattern === undefined ? ['message', channel, message as Buffer] : ['pmessage', pattern, channel, message as Buffer]);

/** Commands a connection holding subscriptions may still run (RESP2). */
export const SUBSCRIBED_ALLOWED = new Set(['subscribe', 'ssubscribe', 'unsubscribe', 'sunsubscribe', 'psubscribe', 'punsubscribe', 'ping', 'quit', 'reset']);

export function notInSubscribedContext(name: string): Reply {
  return error(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
}

/**
 * One confirmation per channel: all but the last pushed (they go out in order, before the reply),
 * the last returned as the command's reply.
 */
function confirmations(connection: Connection, replies: Reply[]): Reply {
  for (let i = 0; i < replies.length - 1; i++) connection.send(replies[i]);
  return replies.at(-1)!;
}

export function subscribe(args: Buffer[], connection: Connection, pattern: boolean): Reply {
  const kind = pattern ? 'psubscribe' : 'subscribe';
  const pubsub = connection.pubsub;
  const replies: Reply[] = [];
  for (let i = 1; i < args.length; i++) {
    try {
      if (pattern) pubsub.psubscribe(connection, args[i]!, respFramer);
      else pubsub.subscribe(connection, args[i]!, respFramer);
    } catch (err) {
      replies.push(error(`ERR ${(err as Error).message}`));
      continue;
    }
    replies.push([kind, args[i]!, connection.subscriptions]);
  }
  return confirmations(connection, replies);
}

export function unsubscribe(args: Buffer[], connection: Connection, pattern: boolean): Reply {
  const kind = pattern ? 'punsubscribe' : 'unsubscribe';
  const pubsub = connection.pubsub;
  // With no names: every one held; with none held, one reply with a null name.
  const names = args.length > 1 ? args.slice(1) : pattern ? pubsub.patterns(connection) : pubsub.channels(connection);
  if (names.length === 0) return [kind, null, connection.subscriptions];
  const replies: Reply[] = [];
  for (const name of names) {
    if (pattern) pubsub.punsubscribe(connection, name);
    else pubsub.unsubscribe(connection, name);
    replies.push([kind, name, connection.subscriptions]);
  }
  return confirmations(connection, replies);
}

/** The count at once when every receiver is in this worker (a sync reply), else once the others have answered. */
export function publish(args: Buffer[], connection: Connection): Reply | Promise<Reply> {
  let n: number | Promise<number>;
  try {
    n = connection.pubsub.publishNow(args[1]!, args[2]!, connection);
  } catch (err) {
    return refused(err);
  }
  return typeof n === 'number' ? n : n.then((count) => count, refused);
}

function refused(err: unknown): Reply {
  return error(`ERR ${(err as Error).message}`);
}

/** PUBSUB CHANNELS [pattern] | NUMSUB [channel…] | NUMPAT. */
export function pubsubCommand(args: Buffer[], connection: Connection): Reply | undefined {
  const sub = args[1]!.toString('latin1').toLowerCase();
  const pubsub = connection.pubsub;
  if (sub === 'channels') return args.length <= 3 ? pubsub.activeChannels(args[2]) : subcommandArity(args[1]!);
  if (sub === 'numsub') return args.slice(2).flatMap((ch) => [ch, pubsub.numsub(ch)]);
  if (sub === 'numpat') return args.length === 2 ? pubsub.numpat : error("ERR wrong number of arguments for 'pubsub|numpat' command");
  return undefined;
}

/** Redis 7.0's text when PUBSUB CHANNELS gets more than a pattern (the name as sent). */
function subcommandArity(sub: Buffer): Reply {
  return error(`ERR unknown subcommand or wrong number of arguments for '${sub.toString('latin1')}'. Try PUBSUB HELP.`);
}

/** The connection a pub/sub command needs (every served request has one). */
function connectionOf(ctx: Context): Connection {
  if (ctx.connection === undefined) throw new Error('pub/sub needs a connection');
  return ctx.connection;
}

export const PUBSUB: CommandTable = {
  subscribe: { arity: -2, run: (a, ctx) => subscribe(a, connectionOf(ctx), false) },
  psubscribe: { arity: -2, run: (a, ctx) => subscribe(a, connectionOf(ctx), true) },
  unsubscribe: { arity: -1, run: (a, ctx) => unsubscribe(a, connectionOf(ctx), false) },
  punsubscribe: { arity: -1, run: (a, ctx) => unsubscribe(a, connectionOf(ctx), true) },
  publish: {
    arity: 3,
    run: (a, ctx) => {
      // Propagated though no key changes, as Redis does: a replica's subscribers hear it too.
      if (replicating(ctx)) ctx.store.dirty++;
      return publish(a, connectionOf(ctx));
    },
  },
  pubsub: { arity: -2, run: (a, ctx) => pubsubCommand(a, connectionOf(ctx)) ?? unknownSubcommand(a[1]!, 'PUBSUB') },
};
