/** Stream IDs (`ms-seq`, two unsigned 64-bit numbers) as Redis 7.0 parses, orders and writes them. */
import { error, type Reply } from '@socketserver/plugin-resp';

export interface Id {
  readonly ms: bigint;
  readonly seq: bigint;
}

export const UINT64_MAX = 2n ** 64n - 1n;
export const MIN_ID: Id = { ms: 0n, seq: 0n };
export const MAX_ID: Id = { ms: UINT64_MAX, seq: UINT64_MAX };
export const INVALID_ID = error('ERR Invalid stream ID specified as stream command argument');

export const cmp = (a: Id, b: Id): number => (a.ms !== b.ms ? (a.ms < b.ms ? -1 : 1) : a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1);
export const idString = (id: Id): string => `${id.ms}-${id.seq}`;
export const isZero = (id: Id): boolean => id.ms === 0n && id.seq === 0n;

/**
 * `ms-seq` or `ms` (seq then `missing`), and `-` / `+` (the least and greatest IDs) unless
 * `strict`; undefined when not an ID.
 */
export function parseId(b: Buffer, missing: bigint, strict = false): Id | undefined {
  const s = b.toString('latin1');
  if (s === '-' || s === '+') return strict ? undefined : s === '-' ? MIN_ID : MAX_ID;
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (m === null) return undefined;
  const ms = BigInt(m[1]!);
  const seq = m[2] === undefined ? missing : BigInt(m[2]);
  return ms > UINT64_MAX || seq > UINT64_MAX ? undefined : { ms, seq };
}

/** The next ID, undefined past the greatest. */
export function incr(id: Id): Id | undefined {
  if (id.seq !== UINT64_MAX) return { ms: id.ms, seq: id.seq + 1n };
  return id.ms === UINT64_MAX ? undefined : { ms: id.ms + 1n, seq: 0n };
}

/** The previous ID, undefined before 0-0. */
export function decr(id: Id): Id | undefined {
  if (id.seq !== 0n) return { ms: id.ms, seq: id.seq - 1n };
  return id.ms === 0n ? undefined : { ms: id.ms - 1n, seq: UINT64_MAX };
}

/** A range's bound: an ID, or `(ID` exclusive (made inclusive by moving one step); the error reply otherwise. */
export function parseBound(b: Buffer, end: boolean): Id | Reply {
  const exclusive = b.length > 1 && b[0] === 0x28; // '('
  const id = parseId(exclusive ? b.subarray(1) : b, end ? UINT64_MAX : 0n, exclusive);
  if (id === undefined) return INVALID_ID;
  if (!exclusive) return id;
  return (end ? decr(id) : incr(id)) ?? error(`ERR invalid ${end ? 'end' : 'start'} ID for the interval`);
}

export const isId = (v: unknown): v is Id => typeof v === 'object' && v !== null && 'ms' in v && 'seq' in v;
