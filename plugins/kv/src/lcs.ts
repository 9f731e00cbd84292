/**
 * LCS (Redis 7.0): the longest common subsequence of two strings by the classic O(n×m) table,
 * bounded as Redis bounds it (a table past proto-max-bulk-len is refused). Only the lengths of
 * two rows are kept, plus one bit a cell for the walk back (which of the two neighbours is
 * longer): 1/32 of Redis's table, for the same answers, ranges and order.
 */
import { error, type Reply } from '@socketserver/plugin-resp';
import { MAX_STRING, NOT_INTEGER, SYNTAX, key, parseInt64, upper, type Context } from './command.js';

const EMPTY = Buffer.alloc(0);

export function lcs(a: Buffer[], ctx: Context): Reply {
  const ea = ctx.store.lookup(key(a[1]!));
  const eb = ctx.store.lookup(key(a[2]!));
  if ((ea !== undefined && !(ea.value instanceof Buffer)) || (eb !== undefined && !(eb.value instanceof Buffer))) {
    return error('ERR The specified keys must contain string values');
  }
  const x = (ea?.value as Buffer | undefined) ?? EMPTY;
  const y = (eb?.value as Buffer | undefined) ?? EMPTY;
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0;
  for (let j = 3; j < a.length; j++) {
    const opt = upper(a[j]);
    if (opt === 'IDX') getIdx = true;
    else if (opt === 'LEN') getLen = true;
    else if (opt === 'WITHMATCHLEN') withMatchLen = true;
    else if (opt === 'MINMATCHLEN' && j + 1 < a.length) {
      const n = parseInt64(a[++j]!);
      if (n === undefined) return NOT_INTEGER;
      minMatchLen = n < 0n ? 0 : n > BigInt(MAX_STRING) ? Infinity : Number(n);
    } else return SYNTAX;
  }
  if (getLen && getIdx) return error('ERR If you want both the length and indexes, please just use IDX.');
  const xl = x.length;
  const yl = y.length;
  const width = yl + 1;
  if ((xl + 1) * width * 4 > MAX_STRING) {
    return error('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  }

  // Row by row: prev holds LCS(i-1, ·), cur LCS(i, ·); bit (i, j) set when LCS(i-1, j) > LCS(i, j-1).
  const walk = getIdx || !getLen;
  const up = walk ? new Uint8Array(Math.ceil(((xl + 1) * width) / 8)) : undefined;
  let prev = new Uint32Array(width);
  let cur = new Uint32Array(width);
  for (let i = 1; i <= xl; i++) {
    const c = x[i - 1]!;
    cur[0] = 0;
    for (let j = 1; j <= yl; j++) {
      if (c === y[j - 1]) cur[j] = prev[j - 1]! + 1;
      else {
        const above = prev[j]!;
        const left = cur[j - 1]!;
        if (above > left) {
          cur[j] = above;
          if (up !== undefined) {
            const bit = i * width + j;
            up[bit >> 3] = up[bit >> 3]! | (1 << (bit & 7));
          }
        } else cur[j] = left;
      }
    }
    [prev, cur] = [cur, prev];
  }
  const total = prev[yl]!; // the last row, swapped into prev
  if (!walk) return total;

  // The walk back from the end, as Redis's: the string, and the matched ranges from last to first.
  const result = Buffer.allocUnsafe(total);
  const matches: Reply[] = [];
  let idx = total;
  let aStart = xl; // xl: no range open
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  for (let i = xl, j = yl; i > 0 && j > 0;) {
    let emit = false;
    if (x[i - 1] === y[j - 1]) {
      result[idx - 1] = x[i - 1]!;
      if (aStart === xl) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else emit = true;
      if (aStart === 0 || bStart === 0) emit = true;
      idx--; i--; j--;
    } else {
      const bit = i * width + j;
      if ((up![bit >> 3]! >> (bit & 7)) & 1) i--;
      else j--;
      if (aStart !== xl) emit = true;
    }
    if (emit) {
      const len = aEnd - aStart + 1;
      if (getIdx && (minMatchLen === 0 || len >= minMatchLen)) {
        matches.push(withMatchLen ? [[aStart, aEnd], [bStart, bEnd], len] : [[aStart, aEnd], [bStart, bEnd]]);
      }
      aStart = xl;
    }
  }
  return getIdx ? ['matches', matches, 'len', total] : result;
}
