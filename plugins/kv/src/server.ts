/** Server and connection commands (Redis 7.0): PING, ECHO, INFO, TIME, RESET, CONFIG, HELLO, CLIENT, COMMAND. */
import { randomBytes } from 'node:crypto';
import { simple, error, type Reply } from '@socketserver/plugin-resp';
import { globMatch } from '@socketserver/core';
import { OK, SYNTAX, parseInt64, upper, unknownSubcommand, wrongArity, type CommandTable, type Context } from './command.js';
import { configOf } from './config.js';
import { replicationOf } from './replication.js';
import { unwatch, type Transaction } from './transactions.js';
import type { Watcher } from './store.js';
import { ENTRIES, errorLines, resetStats, totalErrorReplies, usecOf } from './stats.js';

const RESET = simple('RESET');

/** What a connection's commands change about it (Context.client): its name, and CLIENT REPLY's mode. */
export interface ClientState {
  name?: Buffer;
  /** OFF: no replies; skip-next: set by CLIENT REPLY SKIP, the next command is skipped; skip: this one is. */
  reply?: 'off' | 'skip-next' | 'skip';
  /** Set by MULTI until EXEC or DISCARD. */
  multi?: Transaction | undefined;
  /** Its WATCH, from the first one (kept, empty, after EXEC). */
  watch?: Watcher;
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

/** Microseconds as Redis writes rusage times: seconds.microseconds (6 digits). */
const seconds = (us: number): string => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;

/** A 40-hex-digit id for this process (Redis's run_id and master_replid). */
const RUN_ID = randomBytes(20).toString('hex');

/** INFO's sections in Redis's order, and whether INFO gives it by default (commandstats and latencystats it does not). */
const SECTIONS: readonly (readonly [string, (ctx: Context) => string[], boolean?])[] = [
  ['server', (ctx) => {
    const uptime = Date.now() - ctx.startedAt;
    return ['redis_version:7.0.0', 'redis_git_sha1:00000000', 'redis_git_dirty:0', 'redis_mode:standalone', `os:${process.platform} ${process.arch}`,
      'arch_bits:64', 'multiplexing_api:epoll', `process_id:${process.pid}`, `run_id:${RUN_ID}`, `tcp_port:${ctx.port}`,
      `server_time_usec:${Date.now() * 1000}`, `uptime_in_seconds:${Math.floor(uptime / 1000)}`, `uptime_in_days:${Math.floor(uptime / 86_400_000)}`,
      'hz:10', 'configured_hz:10', `executable:${process.argv[1] ?? ''}`, 'config_file:'];
  }],
  ['clients', (ctx) => [`connected_clients:${ctx.connection?.server.connections.size ?? 0}`, 'blocked_clients:0', 'tracking_clients:0']],
  ['memory', (ctx) => {
    const s = ctx.store;
    const rss = process.memoryUsage.rss();
    return [`used_memory:${s.used}`, `used_memory_human:${human(s.used)}`, `used_memory_rss:${rss}`, `used_memory_rss_human:${human(rss)}`,
      `maxmemory:${s.maxmemory}`, `maxmemory_human:${human(s.maxmemory)}`, `maxmemory_policy:${s.policy}`, 'mem_allocator:v8'];
  }],
  ['persistence', () => ['loading:0', 'async_loading:0', 'rdb_changes_since_last_save:0', 'rdb_bgsave_in_progress:0', 'rdb_last_bgsave_status:ok',
    'aof_enabled:0', 'aof_rewrite_in_progress:0', 'aof_rewrite_scheduled:0', 'aof_last_bgrewrite_status:ok', 'aof_last_write_status:ok']],
  ['stats', (ctx) => {
    const s = ctx.store;
    let commands = 0;
    for (const e of ENTRIES) commands += e.calls;
    const pubsub = ctx.connection?.pubsub.stats();
    return [`total_connections_received:${ctx.connection?.server.received ?? 0}`, `total_commands_processed:${commands}`,
      `expired_keys:${s.expiredKeys}`, `evicted_keys:${s.evictedKeys}`, `pubsub_channels:${pubsub?.channels ?? 0}`,
      `pubsub_patterns:${pubsub?.patterns ?? 0}`, `total_error_replies:${totalErrorReplies()}`];
  }],
  ['replication', (ctx) => replicationOf(ctx.store).info()],
  ['cpu', () => {
    const { user, system } = process.cpuUsage();
    return [`used_cpu_sys:${seconds(system)}`, `used_cpu_user:${seconds(user)}`, 'used_cpu_sys_children:0.000000', 'used_cpu_user_children:0.000000'];
  }],
  ['modules', () => []],
  ['commandstats', () => ENTRIES.filter((e) => e.calls + e.rejected + e.failed > 0).map((e) => {
    const usec = usecOf(e);
    return `cmdstat_${e.name}:calls=${e.calls},usec=${usec},usec_per_call=${(e.calls === 0 ? 0 : usec / e.calls).toFixed(2)},`
      + `rejected_calls=${e.rejected},failed_calls=${e.failed}`;
  }), false],
  ['errorstats', () => errorLines()],
  ['latencystats', () => [], false],
  ['cluster', () => ['cluster_enabled:0']],
  ['keyspace', (ctx) => (ctx.store.data.size === 0 ? [] : [`db0:keys=${ctx.store.data.size},expires=${ctx.store.expires.size},avg_ttl=0`])],
];
const DEFAULTS = SECTIONS.filter(([, , byDefault]) => byDefault !== false);
const TITLES: Readonly<Record<string, string>> = { cpu: 'CPU' };

/** INFO [section …]: the named sections (any case; default, all, everything), each once, in Redis's order. */
function info(args: Buffer[], ctx: Context): string {
  const wanted = new Set<string>();
  let all = args.length === 1;
  for (let i = 1; i < args.length; i++) {
    const name = args[i]!.toString('latin1').toLowerCase();
    if (name === 'all' || name === 'everything') all = true;
    else if (name === 'default') for (const [n] of DEFAULTS) wanted.add(n);
    else wanted.add(name === 'module_list' ? 'modules' : name);
  }
  // No argument: the default sections; 'all' and 'everything': every one.
  const chosen = args.length === 1 ? DEFAULTS : all ? SECTIONS : SECTIONS.filter(([n]) => wanted.has(n));
  return chosen.map(([name, lines]) => {
    const title = TITLES[name] ?? name[0]!.toUpperCase() + name.slice(1);
    return [`# ${title}`, ...lines(ctx)].join('\r\n') + '\r\n';
  }).join('\r\n');
}

/** CONFIG GET | SET | RESETSTAT | REWRITE. */
function configCommand(a: Buffer[], ctx: Context): Reply {
  const sub = upper(a[1]);
  const config = configOf(ctx.store);
  if (sub === 'GET') {
    if (a.length < 3) return wrongArity('config|get');
    return config.get(a.slice(2).map((p) => {
      const pattern = p.toString('latin1').toLowerCase();
      return (name: string) => globMatch(pattern, name);
    }));
  }
  if (sub === 'SET') {
    if (a.length < 4) return wrongArity('config|set');
    if (a.length % 2 !== 0) return SYNTAX;
    const pairs: [string, string][] = [];
    for (let i = 2; i < a.length; i += 2) pairs.push([a[i]!.toString('latin1'), a[i + 1]!.toString('latin1')]);
    const failure = config.set(pairs);
    return failure === undefined ? OK : error(failure);
  }
  if (sub === 'RESETSTAT') {
    if (a.length !== 2) return wrongArity('config|resetstat');
    resetStats();
    ctx.store.expiredKeys = ctx.store.evictedKeys = 0;
    return OK;
  }
  if (sub === 'REWRITE') return a.length === 2 ? error('ERR The server is running without a config file') : wrongArity('config|rewrite');
  return unknownSubcommand(a[1]!, 'CONFIG');
}

/** CLIENT REPLY ON | OFF | SKIP: execute() silences the replies by the mode. */
function clientReply(a: Buffer[], client: ClientState): Reply {
  const mode = upper(a[2]);
  if (mode === 'ON') client.reply = undefined;
  else if (mode === 'OFF') client.reply = 'off';
  else if (mode === 'SKIP') client.reply = client.reply === 'off' ? 'off' : 'skip-next';
  else return SYNTAX;
  return OK;
}

export const SERVER: CommandTable = {
  ping: {
    arity: -1,
    run: (a, ctx) => {
      if (a.length > 2) return wrongArity('ping');
      // A subscriber's PING is answered as a push would be: ['pong', argument or ''].
      if ((ctx.connection?.subscriptions ?? 0) > 0) return ['pong', a[1] ?? ''];
      return a.length === 2 ? a[1]! : simple('PONG');
    },
  },
  echo: { arity: 2, run: (a) => a[1]! },
  command: { arity: -1, run: () => [] },
  info: { arity: -1, run: (a, ctx) => Buffer.from(info(a, ctx), 'latin1') },
  time: {
    arity: 1,
    run: () => {
      const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
      return [String(Math.floor(us / 1e6)), String(us % 1e6)];
    },
  },
  reset: {
    arity: 1,
    run: (_a, ctx) => {
      const c = ctx.connection;
      if (c !== undefined && c.subscriptions > 0) {
        for (const ch of c.pubsub.channels(c)) c.pubsub.unsubscribe(c, ch);
        for (const p of c.pubsub.patterns(c)) c.pubsub.punsubscribe(c, p);
      }
      const client = ctx.client as ClientState;
      client.name = undefined;
      client.reply = undefined;
      client.multi = undefined;
      unwatch(ctx);
      return RESET;
    },
  },
  config: { arity: -2, run: configCommand },
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
      if (sub === 'REPLY' && a.length === 3) return clientReply(a, ctx.client as ClientState);
      if (sub === 'SETNAME' || sub === 'GETNAME' || sub === 'ID' || sub === 'REPLY') return wrongArity(`client|${sub.toLowerCase()}`);
      return unknownSubcommand(a[1]!, 'CLIENT');
    },
  },
};
