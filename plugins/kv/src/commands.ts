/** The commands: Redis's names, arities, replies and error texts (Redis 7.0). */
import { simple, error, ErrorReply, type Reply } from '@socketserver/plugin-resp';
import { compileGlob, globMatch, type Connection } from '@socketserver/core';
import { notInSubscribedContext, publish, pubsubCommand, SUBSCRIBED_ALLOWED, subscribe, unsubscribe } from './pubsub.js';
import { Store } from './store.js';

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

type Run = (args: Buffer[], ctx: Context) => Reply | Promise<Reply>;
interface Command {
  /** Redis's arity: n exactly n arguments (the name included), -n at least n. */
  readonly arity: number;
  readonly run: Run;
}

export const OK = simple('OK');
const NOT_INTEGER: ErrorReply = error('ERR value is not an integer or out of range');
const SYNTAX: ErrorReply = error('ERR syntax error');
export const OOM: ErrorReply = error("OOM command not allowed when used memory > 'maxmemory'.");
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const key = (b: Buffer): string => b.toString('latin1');
const upper = (b: Buffer | undefined): string => (b === undefined ? '' : b.toString('latin1').toUpperCase());

/** A signed 64-bit integer as Redis's string2ll accepts it (no sign +, spaces or leading zeros), else undefined. */
export function parseInt64(b: Buffer): bigint | undefined {
  const s = b.toString('latin1');
  if (!/^-?(?:0|[1-9][0-9]{0,19})$/.test(s) || s === '-0') return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

function wrongArity(name: string): Reply {
  return error(`ERR wrong number of arguments for '${name}' command`);
}

/** Redis 7's text for an unknown command: the name, then up to 128 bytes of arguments, each quoted and followed by a space. */
export function unknownCommand(args: Buffer[]): Reply {
  let rest = '';
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${args[i]!.toString('latin1').slice(0, 128 - rest.length)}' `;
  return error(`ERR unknown command '${args[0]!.toString('latin1').slice(0, 128)}', with args beginning with: ${rest}`);
}

function unknownSubcommand(sub: Buffer, cmd: string): Reply {
  return error(`ERR unknown subcommand '${sub.toString('latin1').slice(0, 128)}'. Try ${cmd} HELP.`);
}

const NO_SET_OPTIONS = Object.freeze({ expireAt: undefined, cond: undefined });

/** SET's options after key and value: the expiry time (absolute ms, or 'keep') and the NX/XX condition, or an error. */
export function parseSetOptions(args: Buffer[], now: number): { expireAt?: number | 'keep'; cond?: 'NX' | 'XX' } | ErrorReply {
  let expireAt: number | 'keep' | undefined;
  let cond: 'NX' | 'XX' | undefined;
  for (let i = 3; i < args.length; i++) {
    const opt = upper(args[i]);
    if ((opt === 'NX' || opt === 'XX') && cond === undefined) {
      cond = opt;
    } else if (opt === 'KEEPTTL' && expireAt === undefined) {
      expireAt = 'keep';
    } else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && expireAt === undefined && i + 1 < args.length) {
      const n = parseInt64(args[++i]!);
      if (n === undefined) return NOT_INTEGER;
      if (n <= 0n) return error("ERR invalid expire time in 'set' command");
      const ms = Number(n) * (opt === 'EX' || opt === 'EXAT' ? 1000 : 1);
      expireAt = opt === 'EX' || opt === 'PX' ? now + ms : ms;
    } else {
      return SYNTAX;
    }
  }
  return { expireAt, cond };
}

function incrBy(ctx: Context, k: Buffer, by: bigint): Reply {
  if (ctx.store.full(1) && !ctx.store.makeRoom(1)) return OOM;
  const old = ctx.store.get(key(k));
  const cur = old === undefined ? 0n : parseInt64(old);
  if (cur === undefined) return NOT_INTEGER;
  const next = cur + by;
  if (next < INT64_MIN || next > INT64_MAX) return error('ERR increment or decrement would overflow');
  ctx.store.set(key(k), Buffer.from(String(next)), 'keep');
  return next;
}

/** Configuration a client may ask for (CONFIG GET): redis-benchmark asks `save` and `appendonly`. */
function config(store: Store): Record<string, string> {
  return { save: '', appendonly: 'no', databases: '1', maxmemory: String(store.maxmemory), 'maxmemory-policy': store.policy, port: '' };
}

/** Bytes as Redis's used_memory_human writes them: 1.50M. */
function human(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n}B` : `${n.toFixed(2)}${units[i]}`;
}

function info(section: string, ctx: Context): string {
  const s = ctx.store;
  const memory = ['# Memory', `used_memory:${s.used}`, `used_memory_human:${human(s.used)}`, `maxmemory:${s.maxmemory}`,
    `maxmemory_human:${human(s.maxmemory)}`, `maxmemory_policy:${s.policy}`].join('\r\n') + '\r\n';
  const stats = ['# Stats', `expired_keys:${s.expiredKeys}`, `evicted_keys:${s.evictedKeys}`].join('\r\n') + '\r\n';
  const server = ['# Server', 'redis_version:7.0.0', 'redis_mode:standalone', `os:${process.platform}`, 'arch_bits:64',
    `process_id:${process.pid}`, `tcp_port:${ctx.port}`, `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAt) / 1000)}`,
    `uptime_in_days:${Math.floor((Date.now() - ctx.startedAt) / 86_400_000)}`].join('\r\n') + '\r\n';
  const keyspace = ctx.store.data.size === 0 ? '# Keyspace\r\n'
    : `# Keyspace\r\ndb0:keys=${ctx.store.data.size},expires=${ctx.store.expires.size},avg_ttl=0\r\n`;
  if (section === '' || section === 'default' || section === 'all' || section === 'everything') return `${server}\r\n${memory}\r\n${stats}\r\n${keyspace}`;
  if (section === 'server') return server;
  if (section === 'memory') return memory;
  if (section === 'stats') return stats;
  if (section === 'keyspace') return keyspace;
  return '';
}

function ttl(args: Buffer[], ctx: Context, unit: number): Reply {
  const k = key(args[1]!);
  if (ctx.store.get(k) === undefined) return -2;
  const at = ctx.store.expires.get(k);
  if (at === undefined) return -1;
  const left = Math.max(0, at - Date.now());
  return unit === 1 ? left : Math.floor((left + 500) / 1000);
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  ping: {
    arity: -1,
    run: (a, ctx) => {
      if (a.length > 2) return wrongArity('ping');
      // A subscriber's PING is answered as a push would be: ['pong', argument or ''].
      if ((ctx.connection?.subscriptions ?? 0) > 0) return ['pong', a[1] ?? ''];
      return a.length === 2 ? a[1]! : simple('PONG');
    },
  },
  subscribe: { arity: -2, run: (a, ctx) => subscribe(a, connectionOf(ctx), false) },
  psubscribe: { arity: -2, run: (a, ctx) => subscribe(a, connectionOf(ctx), true) },
  unsubscribe: { arity: -1, run: (a, ctx) => unsubscribe(a, connectionOf(ctx), false) },
  punsubscribe: { arity: -1, run: (a, ctx) => unsubscribe(a, connectionOf(ctx), true) },
  publish: { arity: 3, run: (a, ctx) => publish(a, connectionOf(ctx)) },
  pubsub: { arity: -2, run: (a, ctx) => pubsubCommand(a, connectionOf(ctx)) ?? unknownSubcommand(a[1]!, 'PUBSUB') },
  echo: { arity: 2, run: (a) => a[1]! },
  get: { arity: 2, run: (a, ctx) => ctx.store.get(key(a[1]!)) ?? null },
  set: {
    arity: -3,
    run: (a, ctx) => {
      // Over maxmemory, a command that may add memory is refused before it runs (as Redis: OOM before syntax).
      if (ctx.store.full(1) && !ctx.store.makeRoom(1)) return OOM;
      // Without options (the common case) nothing is parsed, and the clock is not read.
      const opts = a.length === 3 ? NO_SET_OPTIONS : parseSetOptions(a, Date.now());
      if (opts instanceof ErrorReply) return opts;
      const k = key(a[1]!);
      if (opts.cond !== undefined && ctx.store.has(k) !== (opts.cond === 'XX')) return null;
      ctx.store.set(k, Buffer.from(a[2]!), opts.expireAt); // a copy: the argument is a view of the read
      return OK;
    },
  },
  del: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k)) && ctx.store.delete(key(k))).length },
  exists: { arity: -2, run: (a, ctx) => a.slice(1).filter((k) => ctx.store.has(key(k))).length },
  incr: { arity: 2, run: (a, ctx) => incrBy(ctx, a[1]!, 1n) },
  decr: { arity: 2, run: (a, ctx) => incrBy(ctx, a[1]!, -1n) },
  incrby: { arity: 3, run: (a, ctx) => { const n = parseInt64(a[2]!); return n === undefined ? NOT_INTEGER : incrBy(ctx, a[1]!, n); } },
  decrby: { arity: 3, run: (a, ctx) => { const n = parseInt64(a[2]!); return n === undefined ? NOT_INTEGER : incrBy(ctx, a[1]!, -n); } },
  mget: { arity: -2, run: (a, ctx) => a.slice(1).map((k) => ctx.store.get(key(k)) ?? null) },
  mset: {
    arity: -3,
    run: (a, ctx) => {
      if (a.length % 2 === 0) return wrongArity('mset');
      const adding = (a.length - 1) / 2;
      if (ctx.store.full(adding) && !ctx.store.makeRoom(adding)) return OOM;
      for (let i = 1; i < a.length; i += 2) ctx.store.set(key(a[i]!), Buffer.from(a[i + 1]!));
      return OK;
    },
  },
  expire: {
    arity: -3,
    run: (a, ctx) => {
      const n = parseInt64(a[2]!);
      if (n === undefined) return NOT_INTEGER;
      if (a.length > 3) return error(`ERR Unsupported option ${a[3]!.toString('latin1')}`);
      const k = key(a[1]!);
      const value = ctx.store.get(k);
      if (value === undefined) return 0;
      if (n <= 0n) ctx.store.delete(k);
      else ctx.store.set(k, value, Date.now() + Number(n) * 1000);
      return 1;
    },
  },
  ttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, 1000) },
  pttl: { arity: 2, run: (a, ctx) => ttl(a, ctx, 1) },
  keys: {
    arity: 2,
    run: (a, ctx) => {
      // `*` takes every key, the empty one too (as Redis: it skips matching then).
      const pattern = key(a[1]!);
      return ctx.store.keys(pattern === '*' ? undefined : compileGlob(pattern));
    },
  },
  dbsize: { arity: 1, run: (_a, ctx) => ctx.store.data.size },
  flushall: { arity: -1, run: (_a, ctx) => { ctx.store.clear(); return OK; } },
  flushdb: { arity: -1, run: (_a, ctx) => { ctx.store.clear(); return OK; } },
  select: { arity: 2, run: (a) => { const n = parseInt64(a[1]!); return n === undefined ? error('ERR value is not an integer or out of range') : n === 0n ? OK : error('ERR DB index is out of range'); } },
  command: { arity: -1, run: () => [] },
  info: { arity: -1, run: (a, ctx) => Buffer.from(info(a.length > 1 ? a[1]!.toString('latin1').toLowerCase() : '', ctx)) },
  config: {
    arity: -2,
    run: (a, ctx) => {
      const sub = upper(a[1]);
      if (sub !== 'GET') return unknownSubcommand(a[1]!, 'CONFIG');
      if (a.length < 3) return wrongArity('config|get');
      const out: string[] = [];
      for (const p of a.slice(2)) {
        const pattern = p.toString('latin1').toLowerCase();
        for (const [name, value] of Object.entries(config(ctx.store))) if (globMatch(pattern, name) && !out.includes(name)) out.push(name, value);
      }
      return out;
    },
  },
  hello: {
    arity: -1,
    run: (a, ctx) => {
      if (a.length > 1) {
        const v = parseInt64(a[1]!);
        if (v === undefined) return error('ERR Protocol version is not an integer or out of range');
        if (v !== 2n) return error('NOPROTO unsupported protocol version');
        if (a.length > 2) return error(`ERR Syntax error in HELLO option '${a[2]!.toString('latin1')}'`);
      }
      return ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', ctx.clientId, 'mode', 'standalone', 'role', 'master', 'modules', []];
    },
  },
  client: {
    arity: -2,
    run: (a, ctx) => {
      const sub = upper(a[1]);
      if (sub === 'SETNAME' && a.length === 3) {
        if (/[\x00-\x20\x7f-\xff]/.test(a[2]!.toString('latin1'))) return error('ERR Client names cannot contain spaces, newlines or special characters.');
        ctx.client.name = Buffer.from(a[2]!);
        return OK;
      }
      if (sub === 'GETNAME' && a.length === 2) return ctx.client.name ?? null;
      if (sub === 'ID' && a.length === 2) return ctx.clientId;
      if (sub === 'SETNAME' || sub === 'GETNAME' || sub === 'ID') return wrongArity(`client|${sub.toLowerCase()}`);
      return unknownSubcommand(a[1]!, 'CLIENT');
    },
  },
};

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
  return cmd.run(args, ctx);
}

/** The connection a pub/sub command needs (every served request has one). */
function connectionOf(ctx: Context): Connection {
  if (ctx.connection === undefined) throw new Error('pub/sub needs a connection');
  return ctx.connection;
}
