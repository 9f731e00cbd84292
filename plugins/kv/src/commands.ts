/** The commands: Redis's names, arities, replies and error texts (Redis 7.0), by family. */
import { error, ErrorReply, type Reply } from '@socketserver/plugin-resp';
import { wrongArity, type Command, type CommandTable, type Context } from './command.js';
import { EXPIRY } from './expiry.js';
import { HASHES } from './hashes.js';
import { KEYS } from './keys.js';
import { LISTS } from './lists.js';
import { PUBSUB, SUBSCRIBED_ALLOWED, notInSubscribedContext } from './pubsub.js';
import { SERVER } from './server.js';
import { SETS } from './sets.js';
import { STREAMS } from './streams.js';
import { STRINGS } from './strings.js';
import { ZSETS } from './zsets.js';

export { OK, OOM, parseInt64, type Context } from './command.js';
export { parseSetOptions } from './strings.js';

export const COMMANDS: CommandTable = { ...SERVER, ...PUBSUB, ...STRINGS, ...KEYS, ...EXPIRY, ...LISTS, ...SETS, ...HASHES, ...ZSETS, ...STREAMS };

/** Redis 7's text for an unknown command: the name, then up to 128 bytes of arguments, each quoted and followed by a space. */
export function unknownCommand(args: Buffer[]): Reply {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${args[i]!.toString('latin1').slice(0, 128 - rest.length)}' `;
  return error(`ERR unknown command '${args[0]!.toString('latin1').slice(0, 128)}', with args beginning with: ${rest}`);
}

/** Each command under its lower- and upper-case name (clients send one or the other), with its lower-case name. */
const LOOKUP = new Map<string, readonly [string, Command]>();
for (const [name, cmd] of Object.entries(COMMANDS)) {
  LOOKUP.set(name, [name, cmd]);
  LOOKUP.set(name.toUpperCase(), [name, cmd]);
}

/** Run one request: `args[0]` is the command name, in any case. */
export function execute(args: Buffer[], ctx: Context): Reply | Promise<Reply> {
  const raw = args[0]!.toString('latin1');
  const found = LOOKUP.get(raw) ?? LOOKUP.get(raw.toLowerCase());
  if (found === undefined) return unknownCommand(args);
  const [name, cmd] = found;
  if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) return wrongArity(name);
  const connection = ctx.connection;
  if (connection !== undefined && connection.subscriptions > 0 && !SUBSCRIBED_ALLOWED.has(name)) return notInSubscribedContext(name);
  try {
    return cmd.run(args, ctx);
  } catch (err) {
    // A command reaches a key of another type deep in its work (Store.get): WRONGTYPE, thrown.
    if (err instanceof ErrorReply) return err;
    throw err;
  }
}

