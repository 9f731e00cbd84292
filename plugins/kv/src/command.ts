/** What every command family shares: the caller's context, a command's shape, Redis's common replies and argument parsing. */
import { simple, error, ErrorReply, type Reply } from '@socketserver/plugin-resp';
import type { Connection } from '@socketserver/core';
import type { Store } from './store.js';

/** What a command may know of its caller. */
export interface Context {
  readonly store: Store;
  /** The connection's id (HELLO, CLIENT ID) and its state (CLIENT SETNAME). */
  readonly clientId: number;
  readonly client: { name?: Buffer };
  readonly port: number;
  readonly startedAt: number;
  /** The client's connection, for pub/sub (absent when commands run without one). */
  readonly connection?: Connection;
}

/** What a command answers when it answers nothing (REPLCONF ACK, as Redis). */
export const NO_REPLY: unique symbol = Symbol('kv.NO_REPLY');

export type Run = (args: Buffer[], ctx: Context) => Reply | Promise<Reply> | typeof NO_REPLY;
export interface Command {
  /** Redis's arity: n exactly n arguments (the name included), -n at least n. */
  readonly arity: number;
  readonly run: Run;
}

/** Commands by lower-case name: each family file exports one table. */
export type CommandTable = Readonly<Record<string, Command>>;

export const OK = simple('OK');
export const NOT_INTEGER: ErrorReply = error('ERR value is not an integer or out of range');
export const SYNTAX: ErrorReply = error('ERR syntax error');
export const OOM: ErrorReply = error("OOM command not allowed when used memory > 'maxmemory'.");
export const OVERFLOW: ErrorReply = error('ERR increment or decrement would overflow');
export const WRONGTYPE: ErrorReply = error('WRONGTYPE Operation against a key holding the wrong kind of value');
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** A key as the store holds it: a latin1 string, one char per byte (binary safe). */
export const key = (b: Buffer): string => b.toString('latin1');
export const upper = (b: Buffer | undefined): string => (b === undefined ? '' : b.toString('latin1').toUpperCase());

/** A signed 64-bit integer as Redis's string2ll accepts it (no sign +, spaces or leading zeros), else undefined. */
export function parseInt64(b: Buffer): bigint | undefined {
  const s = b.toString('latin1');
  if (!/^-?(?:0|[1-9][0-9]{0,19})$/.test(s) || s === '-0') return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

export function wrongArity(name: string): Reply {
  return error(`ERR wrong number of arguments for '${name}' command`);
}

export function unknownSubcommand(sub: Buffer, cmd: string): Reply {
  return error(`ERR unknown subcommand '${sub.toString('latin1').slice(0, 128)}'. Try ${cmd} HELP.`);
}

// Strings.
/** Redis's proto-max-bulk-len (512 MB): the longest string a command may make (SETRANGE, APPEND, SETBIT) or LCS table it may use. */
export const MAX_STRING = 512 * 1024 * 1024;

/**
 * Over maxmemory, a command that may add `adding` keys (or grow one) is refused before it runs
 * (as Redis: OOM before syntax): true when even eviction by the policy leaves no room.
 */
export const noRoom = (ctx: Context, adding = 1): boolean => ctx.store.full(adding) && !ctx.store.makeRoom(adding);

/** A sum that stays a signed 64-bit integer, else undefined (INCRBY's and HINCRBY's overflow). */
export function addInt64(a: bigint, b: bigint): bigint | undefined {
  const sum = a + b;
  return sum < INT64_MIN || sum > INT64_MAX ? undefined : sum;
}

// Replication: the names commands propagate as when they rewrite themselves (Store.propagateAs).
export const AS = {
  DEL: Buffer.from('DEL'), SET: Buffer.from('SET'), PXAT: Buffer.from('PXAT'), PEXPIREAT: Buffer.from('PEXPIREAT'),
  PERSIST: Buffer.from('PERSIST'), KEEPTTL: Buffer.from('KEEPTTL'), ABSTTL: Buffer.from('ABSTTL'),
} as const;

/** Replicas listen: a command that propagates otherwise than as sent says how (see Store.propagateAs). */
export const replicating = (ctx: Context): boolean => ctx.store.replicas !== undefined;

/** A number as an argument of a propagated command. */
export const arg = (n: number | bigint): Buffer => Buffer.from(String(n), 'latin1');
