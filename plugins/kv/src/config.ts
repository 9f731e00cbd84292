/**
 * CONFIG GET / SET parameters (Redis 7.0's names, aliases, defaults and error texts): those kv
 * acts on (maxmemory, maxmemory-policy, notify-keyspace-events) and others clients and Redis's
 * tests set and read back, accepted and kept. Per process: each worker has its own.
 */
import { perStore, type Store, type Policy } from './store.js';
import { formatEvents, parseEvents, Notifier } from './notify.js';
import { ENCODING_LIMITS } from './collection.js';

type Kind = 'bool' | 'int' | 'memory' | 'string' | 'immutable';

interface Param {
  readonly name: string;
  readonly alias?: string;
  /** The value as CONFIG GET shows it. */
  get(config: ServerConfig): string;
  /** Set it; an error text (Redis's, after "CONFIG SET failed … - ") when the value is refused. */
  set(config: ServerConfig, value: string): string | undefined;
}

/** Redis's maxmemory-policy names; kv evicts by the first three (sampled LRU). */
const POLICY_NAMES = ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction'];
const SUPPORTED: readonly string[] = ['noeviction', 'allkeys-lru', 'volatile-lru'];

/** Redis's memtoull: digits and an optional unit (k = 1000, kb = 1024…, any case), undefined otherwise. */
export function parseMemory(text: string): number | undefined {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(text);
  if (m === null) return undefined;
  const unit = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A parameter kv keeps but does not act on, checked by kind. */
function kept(name: string, kind: Kind, initial: string, alias?: string): Param {
  return {
    name, alias,
    get: (c) => c.kept.get(name) ?? initial,
    set: (c, value) => {
      if (kind === 'immutable') return "can't set immutable config";
      if (kind === 'bool') {
        const v = value.toLowerCase();
        if (v !== 'yes' && v !== 'no') return "argument must be 'yes' or 'no'";
        value = v;
      } else if (kind === 'int') {
        if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) return "argument couldn't be parsed into an integer";
        value = String(Number(value));
      } else if (kind === 'memory') {
        const n = parseMemory(value);
        if (n === undefined) return 'argument must be a memory value';
        value = String(n);
      }
      c.kept.set(name, value);
      return undefined;
    },
  };
}

/** Redis's LONG_MAX: the most a size parameter takes. */
const LONG_MAX = 9223372036854775807n;

/**
 * A size under which small values are kept compact (ENCODING_LIMITS): OBJECT ENCODING follows
 * it from the next change of a value, as Redis converts then. `memory` takes units (64kb).
 */
function limit(name: string, alias: string | undefined, field: keyof typeof ENCODING_LIMITS, memory = false): Param {
  return {
    name, alias,
    get: () => String(ENCODING_LIMITS[field]),
    set: (_c, value) => {
      let n: bigint;
      if (memory) {
        const m = parseMemory(value);
        if (m === undefined) return 'argument must be a memory value';
        n = BigInt(m);
      } else {
        if (!/^[-+]?\d+$/.test(value)) return "argument couldn't be parsed into an integer";
        n = BigInt(value);
      }
      if (n < 0n || n > LONG_MAX) return `argument must be between 0 and ${LONG_MAX} inclusive`;
      ENCODING_LIMITS[field] = Number(n);
      return undefined;
    },
  };
}

const PARAMS: readonly Param[] = [
  {
    name: 'maxmemory',
    get: (c) => String(c.store.maxmemory),
    set: (c, value) => {
      const n = parseMemory(value);
      if (n === undefined) return 'argument must be a memory value';
      c.store.reconfigure(n, c.store.policy);
      return undefined;
    },
  },
  {
    name: 'maxmemory-policy',
    get: (c) => c.store.policy,
    set: (c, value) => {
      const v = value.toLowerCase();
      if (!POLICY_NAMES.includes(v)) return `argument(s) must be one of the following: ${POLICY_NAMES.join(', ')}`;
      if (!SUPPORTED.includes(v)) return `kv evicts only by ${SUPPORTED.join(', ')}`;
      c.store.reconfigure(c.store.maxmemory, v as Policy);
      return undefined;
    },
  },
  {
    name: 'notify-keyspace-events',
    get: (c) => formatEvents(c.notifier.events),
    set: (c, value) => {
      const flags = parseEvents(value);
      if (flags === undefined) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
      c.notifier.events = flags;
      return undefined;
    },
  },
  kept('save', 'string', ''),
  kept('appendonly', 'bool', 'no'),
  kept('appendfsync', 'string', 'everysec'),
  kept('appendfilename', 'immutable', 'appendonly.aof'),
  kept('appenddirname', 'immutable', 'appendonlydir'),
  kept('dbfilename', 'string', 'dump.rdb'),
  kept('dir', 'string', process.cwd()),
  kept('databases', 'immutable', '1'),
  kept('port', 'immutable', '0'),
  kept('hz', 'int', '10'),
  kept('timeout', 'int', '0'),
  kept('maxmemory-samples', 'int', '5'),
  kept('maxmemory-clients', 'memory', '0'),
  kept('lazyfree-lazy-user-del', 'bool', 'no'),
  kept('lazyfree-lazy-user-flush', 'bool', 'no'),
  kept('activedefrag', 'bool', 'no'),
  kept('replica-read-only', 'bool', 'yes', 'slave-read-only'),
  kept('repl-ping-replica-period', 'int', '10', 'repl-ping-slave-period'),
  kept('lua-time-limit', 'int', '5000', 'busy-reply-threshold'),
  kept('slowlog-log-slower-than', 'int', '10000'),
  kept('slowlog-max-len', 'int', '128'),
  kept('latency-monitor-threshold', 'int', '0'),
  kept('latency-tracking', 'bool', 'yes'),
  kept('list-max-listpack-size', 'int', '-2', 'list-max-ziplist-size'),
  kept('list-compress-depth', 'int', '0'),
  limit('hash-max-listpack-entries', 'hash-max-ziplist-entries', 'hashMaxListpackEntries'),
  limit('hash-max-listpack-value', 'hash-max-ziplist-value', 'hashMaxListpackValue', true),
  limit('set-max-intset-entries', undefined, 'setMaxIntsetEntries'),
  limit('zset-max-listpack-entries', 'zset-max-ziplist-entries', 'zsetMaxListpackEntries'),
  limit('zset-max-listpack-value', 'zset-max-ziplist-value', 'zsetMaxListpackValue', true),
  kept('stream-node-max-entries', 'int', '100'),
  kept('stream-node-max-bytes', 'memory', '4096'),
];

/** Each parameter under its name and its alias (lower case: names are matched in any case). */
const BY_NAME = new Map<string, Param>();
for (const p of PARAMS) {
  BY_NAME.set(p.name, p);
  if (p.alias !== undefined) BY_NAME.set(p.alias, p);
}

/** One process's configuration: its store's limits, its notifications and the parameters kept. */
export class ServerConfig {
  readonly notifier: Notifier;
  readonly kept = new Map<string, string>();

  constructor(readonly store: Store) {
    this.notifier = new Notifier(store);
  }

  /** CONFIG GET: every parameter whose name or alias matches one of the globs, name and value, each once. */
  get(matches: ((name: string) => boolean)[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const [name, p] of BY_NAME) {
      if (seen.has(name) || !matches.some((m) => m(name))) continue;
      seen.add(name);
      out.push(name, p.get(this));
    }
    return out;
  }

  /**
   * CONFIG SET name value [name value …]: all set or none (the old values restored), Redis's
   * error texts; undefined when set.
   */
  set(pairs: [string, string][]): string | undefined {
    const params: Param[] = [];
    for (const [name] of pairs) {
      const p = BY_NAME.get(name.toLowerCase());
      if (p === undefined) return `ERR Unknown option or number of arguments for CONFIG SET - '${name}'`;
      if (params.includes(p)) return `ERR CONFIG SET failed (possibly related to argument '${name}') - duplicate parameter`;
      params.push(p);
    }
    const old = params.map((p) => p.get(this));
    for (let i = 0; i < params.length; i++) {
      const why = params[i]!.set(this, pairs[i]![1]);
      if (why === undefined) continue;
      for (let j = i - 1; j >= 0; j--) params[j]!.set(this, old[j]!);
      return `ERR CONFIG SET failed (possibly related to argument '${pairs[i]![0]}') - ${why}`;
    }
    return undefined;
  }
}

/** Each store's configuration. */
export const configOf = perStore((store) => new ServerConfig(store));
