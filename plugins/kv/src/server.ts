/** Server and connection commands (Redis 7.0): PING, ECHO, INFO, CONFIG, HELLO, CLIENT, COMMAND. */
import { simple, error } from '@socketserver/plugin-resp';
import { globMatch } from '@socketserver/core';
import { OK, parseInt64, upper, unknownSubcommand, wrongArity, type CommandTable, type Context } from './command.js';
import type { Store } from './store.js';

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
