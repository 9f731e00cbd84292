/** The commands: Redis's names, arities, replies and error texts (Redis 7.0), by family. */
import { error, ErrorReply, type Reply } from '@socketserver/plugin-resp';
import { NO_REPLY, wrongArity, type Command, type CommandTable, type Context } from './command.js';
import { DUMP } from './dump.js';
import { EXPIRY } from './expiry.js';
import { HASHES } from './hashes.js';
import { KEYS } from './keys.js';
import { LISTS } from './lists.js';
import { PUBSUB, SUBSCRIBED_ALLOWED, notInSubscribedContext } from './pubsub.js';
import { REPLICATION } from './replication.js';
import { SERVER, type ClientState } from './server.js';
import { SETS } from './sets.js';
import type { ChangeFeed } from './store.js';
import { CommandEntry, ENTRIES, TIMED_EVERY, countError } from './stats.js';
import { STREAM_CLAIMS } from './stream-claim.js';
import { STREAM_GROUPS } from './stream-groups.js';
import { STREAM_INFO } from './stream-info.js';
import { STREAM_READS } from './stream-read.js';
import { STREAMS } from './streams.js';
import { STRINGS } from './strings.js';
import { ZSETS } from './zsets.js';
import { TRANSACTION_CONTROL, TRANSACTIONS, enqueue } from './transactions.js';

export { OK, OOM, parseInt64, type Context } from './command.js';
export { parseSetOptions } from './strings.js';

export const COMMANDS: CommandTable = {
  ...SERVER, ...PUBSUB, ...STRINGS, ...KEYS, ...EXPIRY, ...LISTS, ...SETS, ...HASHES, ...ZSETS,
  ...STREAMS, ...STREAM_GROUPS, ...STREAM_CLAIMS, ...STREAM_READS, ...STREAM_INFO, ...TRANSACTIONS, ...DUMP, ...REPLICATION,
};

/** Redis 7's text for an unknown command: the name, then up to 128 bytes of arguments, each quoted and followed by a space. */
export function unknownCommand(args: Buffer[]): Reply {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${args[i]!.toString('latin1').slice(0, 128 - rest.length)}' `;
  return error(`ERR unknown command '${args[0]!.toString('latin1').slice(0, 128)}', with args beginning with: ${rest}`);
}

/** Each command under its lower- and upper-case name (clients send one or the other): its entry, with its name and counters. */
const LOOKUP = new Map<string, CommandEntry>();
for (const [name, cmd] of Object.entries(COMMANDS)) {
  const entry = new CommandEntry(name, cmd);
  ENTRIES.push(entry);
  LOOKUP.set(name, entry);
  LOOKUP.set(name.toUpperCase(), entry);
}

/** Commands whose confirmations are pushes: sent even with CLIENT REPLY OFF or SKIP, as Redis does. */
const PUSHES = new Set(['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']);

/**
 * Run one request: `args[0]` is the command name, in any case. Counted for INFO commandstats
 * and errorstats; undefined when the client silenced replies (CLIENT REPLY OFF or SKIP).
 */
export function execute(args: Buffer[], ctx: Context): Reply | Promise<Reply> | undefined {
  const raw = args[0]!.toString('latin1');
  const found = LOOKUP.get(raw) ?? LOOKUP.get(raw.toLowerCase());
  let reply: Ran;
  const client = ctx.client as ClientState;
  const tx = client.multi;
  if (found === undefined) {
    if (tx !== undefined) tx.failed = true;
    reply = failed(unknownCommand(args));
  } else if (found.cmd.arity > 0 ? args.length !== found.cmd.arity : args.length < -found.cmd.arity) {
    if (tx !== undefined) tx.failed = true;
    found.rejected++;
    reply = failed(wrongArity(found.name));
  } else if (tx !== undefined && !TRANSACTION_CONTROL.has(found.name)) {
    reply = enqueue(tx, args);
  } else if (ctx.connection !== undefined && ctx.connection.subscriptions > 0 && !SUBSCRIBED_ALLOWED.has(found.name)) {
    found.rejected++;
    reply = failed(notInSubscribedContext(found.name));
  } else {
    // One call in TIMED_EVERY is timed (the first one always): a clock read costs a few % of a GET.
    const timed = (found.calls & (TIMED_EVERY - 1)) === 0;
    const start = timed ? performance.now() : 0;
    const replicas = ctx.store.replicas;
    reply = replicas === undefined ? run(found.cmd, args, ctx) : runPropagated(found.cmd, args, ctx, replicas);
    if (timed) {
      found.ms += performance.now() - start;
      found.timed++;
    }
    found.calls++;
    if (reply instanceof ErrorReply) {
      found.failed++;
      countError(reply);
    } else if (reply === NO_REPLY) return undefined;
  }
  return client.reply === undefined ? reply : silenced(reply, client, found?.name);
}

type Ran = Reply | Promise<Reply> | typeof NO_REPLY;

function run(cmd: Command, args: Buffer[], ctx: Context): Ran {
  try {
    return cmd.run(args, ctx);
  } catch (err) {
    // A command reaches a key of another type deep in its work (Store.get): WRONGTYPE, thrown.
    if (!(err instanceof ErrorReply)) throw err;
    return err;
  }
}

/**
 * Run a command while replicas listen: when it changed something, it goes to them as it came or
 * as it rewrote itself (Store.propagateAs); once the outermost call ends, all of it is sent.
 */
function runPropagated(cmd: Command, args: Buffer[], ctx: Context, replicas: ChangeFeed): Ran {
  const store = ctx.store;
  const dirty = store.dirty;
  replicas.depth++;
  try {
    return run(cmd, args, ctx);
  } finally {
    const as = store.propagateAs;
    store.propagateAs = undefined;
    if (store.dirty !== dirty) {
      if (as === undefined) replicas.feed(args);
      else for (const command of as) replicas.feed(command);
    }
    if (--replicas.depth === 0) replicas.flush();
  }
}

/** An error made before the command runs (unknown, arity, context): counted for errorstats. */
function failed(reply: Reply): Reply {
  countError(reply as ErrorReply);
  return reply;
}

/** CLIENT REPLY OFF: no reply; SKIP: none for the next command (pushes are sent all the same). */
function silenced(reply: Reply | Promise<Reply>, client: ClientState, name: string | undefined): Reply | Promise<Reply> | undefined {
  const mode = client.reply;
  if (mode === 'skip-next') client.reply = 'skip'; // CLIENT REPLY SKIP itself: the next one is skipped
  else if (mode === 'skip') client.reply = undefined;
  return name !== undefined && PUSHES.has(name) ? reply : undefined;
}
