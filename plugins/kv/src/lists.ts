/** List commands (Redis 7.0), the few that make and read lists: an array of Buffers. */
import { NULL_ARRAY, error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OOM, key, parseInt64, wrongArity, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, deleteIfEmpty, lookupOf, range, resize, writable, type Held } from './collection.js';

export class List implements Held {
  readonly type = 'list';
  bytes = 0;
  constructor(readonly items: Buffer[] = []) {}
  /** Redis 7.0 holds every list in a quicklist. */
  get encoding(): string {
    return 'quicklist';
  }
  clone(): List {
    const copy = new List(this.items.map((b) => Buffer.from(b)));
    copy.bytes = this.bytes;
    return copy;
  }
}

const newList = (): List => new List();

function push(a: Buffer[], ctx: Context, left: boolean): Reply {
  const list = writable(ctx, a[1]!, 'list', newList);
  if (list === undefined) return OOM;
  let bytes = 0;
  for (let i = 2; i < a.length; i++) {
    const item = Buffer.from(a[i]!); // a copy: the argument is a view of the read
    if (left) list.items.unshift(item);
    else list.items.push(item);
    bytes += item.length + ELEMENT_OVERHEAD;
  }
  resize(ctx, list, bytes);
  ctx.store.notify('l', left ? 'lpush' : 'rpush', key(a[1]!));
  return list.items.length;
}

function pop(a: Buffer[], ctx: Context, left: boolean): Reply {
  if (a.length > 3) return wrongArity(left ? 'lpop' : 'rpop');
  let count = 1;
  if (a.length === 3) {
    const n = parseInt64(a[2]!);
    if (n === undefined || n < 0n) return error('ERR value is out of range, must be positive');
    count = Number(n);
  }
  const k = key(a[1]!);
  const list = lookupOf<List>(ctx, k, 'list');
  if (list === undefined) return a.length === 3 ? NULL_ARRAY : null;
  if (count === 0) return [];
  const taken = left ? list.items.splice(0, count) : list.items.splice(-Math.min(count, list.items.length)).reverse();
  resize(ctx, list, -taken.reduce((n, b) => n + b.length + ELEMENT_OVERHEAD, 0));
  ctx.store.notify('l', left ? 'lpop' : 'rpop', k);
  deleteIfEmpty(ctx, k, list.items.length);
  return a.length === 3 ? taken : taken[0]!;
}

export const LISTS: CommandTable = {
  lpush: { arity: -3, run: (a, ctx) => push(a, ctx, true) },
  rpush: { arity: -3, run: (a, ctx) => push(a, ctx, false) },
  lpop: { arity: -2, run: (a, ctx) => pop(a, ctx, true) },
  rpop: { arity: -2, run: (a, ctx) => pop(a, ctx, false) },
  llen: { arity: 2, run: (a, ctx) => lookupOf<List>(ctx, key(a[1]!), 'list')?.items.length ?? 0 },
  lrange: {
    arity: 4,
    run: (a, ctx) => {
      const start = parseInt64(a[2]!);
      const stop = parseInt64(a[3]!);
      if (start === undefined || stop === undefined) return NOT_INTEGER;
      const list = lookupOf<List>(ctx, key(a[1]!), 'list');
      if (list === undefined) return [];
      const r = range(start, stop, list.items.length);
      return r === undefined ? [] : list.items.slice(r[0], r[1] + 1);
    },
  },
};
