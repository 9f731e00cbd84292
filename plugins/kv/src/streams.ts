/** Stream commands (Redis 7.0), the few that make and read streams: XADD, XLEN, XRANGE. */
import { error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, OOM, SYNTAX, key, parseInt64, upper, wrongArity, type CommandTable, type Context } from './command.js';
import { ELEMENT_OVERHEAD, lookupOf, resize, writable, type Held } from './collection.js';

const UINT64_MAX = 2n ** 64n - 1n;
const INVALID_ID = error('ERR Invalid stream ID specified as stream command argument');

interface StreamEntry {
  readonly ms: bigint;
  readonly seq: bigint;
  readonly fields: Buffer[];
}

export class Stream implements Held {
  readonly type = 'stream';
  bytes = 0;
  lastMs = 0n;
  lastSeq = 0n;
  constructor(readonly entries: StreamEntry[] = []) {}
  get encoding(): string {
    return 'stream';
  }
  clone(): Stream {
    const copy = new Stream(this.entries.map((e) => ({ ms: e.ms, seq: e.seq, fields: e.fields.map((b) => Buffer.from(b)) })));
    copy.bytes = this.bytes;
    copy.lastMs = this.lastMs;
    copy.lastSeq = this.lastSeq;
    return copy;
  }
}

const newStream = (): Stream => new Stream();

/** `ms-seq` or `ms` (seq then `missing`), both unsigned 64-bit; undefined when not an ID. */
function parseId(b: Buffer, missing: bigint | undefined): [bigint, bigint] | undefined {
  const m = /^(\d+)(?:-(\d+|\*))?$/.exec(b.toString('latin1'));
  if (m === null || (m[2] === undefined && missing === undefined) || m[2] === '*') return undefined;
  const ms = BigInt(m[1]!);
  const seq = m[2] === undefined ? missing! : BigInt(m[2]);
  return ms > UINT64_MAX || seq > UINT64_MAX ? undefined : [ms, seq];
}

const idOf = (e: StreamEntry): string => `${e.ms}-${e.seq}`;
const before = (ams: bigint, aseq: bigint, bms: bigint, bseq: bigint): boolean => ams < bms || (ams === bms && aseq < bseq);

function xadd(a: Buffer[], ctx: Context): Reply {
  // KEY ID|* field value...: the options (NOMKSTREAM, MAXLEN, MINID) are not supported.
  if (a.length < 5 || (a.length - 3) % 2 !== 0) return wrongArity('xadd');
  const auto = a[2]!.length === 1 && a[2]![0] === 0x2a; // '*'
  const id = auto ? undefined : parseId(a[2]!, 0n);
  if (!auto && id === undefined) return INVALID_ID;
  if (id !== undefined && id[0] === 0n && id[1] === 0n) return error('ERR The ID specified in XADD must be greater than 0-0');
  const k = key(a[1]!);
  const existing = lookupOf<Stream>(ctx, k, 'stream');
  let ms: bigint;
  let seq: bigint;
  if (id === undefined) {
    const now = BigInt(Date.now());
    const last = existing === undefined ? [0n, 0n] : [existing.lastMs, existing.lastSeq];
    [ms, seq] = now > last[0]! ? [now, 0n] : [last[0]!, last[1]! + 1n];
  } else {
    [ms, seq] = id;
    if (existing !== undefined && !before(existing.lastMs, existing.lastSeq, ms, seq)) {
      return error('ERR The ID specified in XADD is equal or smaller than the target stream top item');
    }
  }
  const stream = writable(ctx, a[1]!, 'stream', newStream);
  if (stream === undefined) return OOM;
  const fields = a.slice(3).map((b) => Buffer.from(b));
  stream.entries.push({ ms, seq, fields });
  stream.lastMs = ms;
  stream.lastSeq = seq;
  resize(ctx, stream, fields.reduce((n, b) => n + b.length, ELEMENT_OVERHEAD));
  ctx.store.notify('t', 'xadd', k);
  return `${ms}-${seq}`;
}

function xrange(a: Buffer[], ctx: Context): Reply {
  const start = a[2]!.toString('latin1') === '-' ? [0n, 0n] : parseId(a[2]!, 0n);
  const end = a[3]!.toString('latin1') === '+' ? [UINT64_MAX, UINT64_MAX] : parseId(a[3]!, UINT64_MAX);
  if (start === undefined || end === undefined) return INVALID_ID;
  let count = Infinity;
  if (a.length > 4) {
    if (a.length !== 6 || upper(a[4]) !== 'COUNT') return SYNTAX;
    const n = parseInt64(a[5]!);
    if (n === undefined) return NOT_INTEGER;
    count = n < 0n ? 0 : Number(n);
  }
  const stream = lookupOf<Stream>(ctx, key(a[1]!), 'stream');
  const out: Reply[] = [];
  if (stream === undefined) return out;
  for (const e of stream.entries) {
    if (out.length >= count) break;
    if (before(e.ms, e.seq, start[0]!, start[1]!)) continue;
    if (before(end[0]!, end[1]!, e.ms, e.seq)) break;
    out.push([idOf(e), e.fields]);
  }
  return out;
}

export const STREAMS: CommandTable = {
  xadd: { arity: -5, run: xadd },
  xlen: { arity: 2, run: (a, ctx) => lookupOf<Stream>(ctx, key(a[1]!), 'stream')?.entries.length ?? 0 },
  xrange: { arity: -4, run: xrange },
};
