/** Hash commands (Redis 7.0), the few that make and read hashes: fields as latin1 strings. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OK, OOM, OVERFLOW, addInt64, key, parseInt64, wrongArity, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, ENCODING_LIMITS, deleteIfEmpty, lookupOf, resize, writable, type Held } from './collection.js';

export class Hash implements Held {
  readonly type = 'hash';
  bytes = 0;
  /** Whether it is still small enough for Redis's listpack (it never goes back). */
  listpack = true;
  constructor(readonly fields = new Map<string, Buffer>()) {}
  get encoding(): string {
    return this.listpack ? 'listpack' : 'hashtable';
  }
  clone(): Hash {
    const copy = new Hash(new Map([...this.fields].map(([f, v]) => [f, Buffer.from(v)])));
    copy.bytes = this.bytes;
    copy.listpack = this.listpack;
    return copy;
  }
}

const newHash = (): Hash => new Hash();

/** HSET and HMSET: field/value pairs set, the count of new fields. */
function hset(a: Buffer[], ctx: Context, name: string): Reply {
  if (a.length % 2 !== 0) return wrongArity(name);
  const hash = writable(ctx, a[1]!, 'hash', newHash);
  if (hash === undefined) return OOM;
  let added = 0;
  let bytes = 0;
  for (let i = 2; i < a.length; i += 2) {
    const field = key(a[i]!);
    const value = Buffer.from(a[i + 1]!);
    const old = hash.fields.get(field);
    if (old === undefined) {
      added++;
      bytes += field.length + value.length + ELEMENT_OVERHEAD;
    } else {
      bytes += value.length - old.length;
    }
    hash.fields.set(field, value);
    if (field.length > ENCODING_LIMITS.hashMaxListpackValue || value.length > ENCODING_LIMITS.hashMaxListpackValue) hash.listpack = false;
  }
  if (hash.fields.size > ENCODING_LIMITS.hashMaxListpackEntries) hash.listpack = false;
  resize(ctx, hash, bytes);
  ctx.store.notify('h', 'hset', key(a[1]!));
  return name === 'hmset' ? OK : added;
}

function hdel(a: Buffer[], ctx: Context): Reply {
  const k = key(a[1]!);
  const hash = lookupOf<Hash>(ctx, k, 'hash');
  if (hash === undefined) return 0;
  let removed = 0;
  let bytes = 0;
  for (let i = 2; i < a.length; i++) {
    const field = key(a[i]!);
    const old = hash.fields.get(field);
    if (old === undefined) continue;
    hash.fields.delete(field);
    removed++;
    bytes += field.length + old.length + ELEMENT_OVERHEAD;
  }
  resize(ctx, hash, -bytes);
  if (removed > 0) {
    ctx.store.notify('h', 'hdel', k);
    deleteIfEmpty(ctx, k, hash.fields.size);
  }
  return removed;
}

const NOT_INTEGER_FIELD = error('ERR hash value is not an integer');

/** HINCRBY key field increment: the field's integer value (0 when missing) plus the increment. */
function hincrby(a: Buffer[], ctx: Context): Reply {
  const by = parseInt64(a[3]!);
  if (by === undefined) return NOT_INTEGER;
  const hash = writable(ctx, a[1]!, 'hash', newHash);
  if (hash === undefined) return OOM;
  const field = key(a[2]!);
  const old = hash.fields.get(field);
  const current = old === undefined ? 0n : parseInt64(old);
  if (current === undefined) return NOT_INTEGER_FIELD;
  const next = addInt64(current, by);
  if (next === undefined) return OVERFLOW;
  const value = Buffer.from(String(next), 'latin1');
  hash.fields.set(field, value);
  resize(ctx, hash, old === undefined ? field.length + value.length + ELEMENT_OVERHEAD : value.length - old.length);
  if (hash.fields.size > ENCODING_LIMITS.hashMaxListpackEntries || field.length > ENCODING_LIMITS.hashMaxListpackValue) hash.listpack = false;
  ctx.store.notify('h', 'hincrby', key(a[1]!));
  return next;
}

export const HASHES: CommandTable = {
  hincrby: { arity: 4, run: hincrby },
  hset: { arity: -4, run: (a, ctx) => hset(a, ctx, 'hset') },
  hmset: { arity: -4, run: (a, ctx) => hset(a, ctx, 'hmset') },
  hdel: { arity: -3, run: hdel },
  hget: { arity: 3, run: (a, ctx) => lookupOf<Hash>(ctx, key(a[1]!), 'hash')?.fields.get(key(a[2]!)) ?? null },
  hlen: { arity: 2, run: (a, ctx) => lookupOf<Hash>(ctx, key(a[1]!), 'hash')?.fields.size ?? 0 },
  hexists: { arity: 3, run: (a, ctx) => (lookupOf<Hash>(ctx, key(a[1]!), 'hash')?.fields.has(key(a[2]!)) === true ? 1 : 0) },
  hgetall: {
    arity: 2,
    run: (a, ctx) => {
      const hash = lookupOf<Hash>(ctx, key(a[1]!), 'hash');
      const out: Reply[] = [];
      if (hash !== undefined) for (const [f, v] of hash.fields) out.push(Buffer.from(f, 'latin1'), v);
      return out;
    },
  },
};
