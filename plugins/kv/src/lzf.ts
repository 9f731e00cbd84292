/**
 * LZF decompression (liblzf's format, lzf_d.c), for strings Redis writes compressed in DUMP
 * payloads and RDB files. A control byte under 32 starts a run of that many + 1 literal bytes;
 * any other is a back-reference: length in its top 3 bits (7: plus the next byte) + 2, offset in
 * its low 5 bits and the next byte, + 1, back from the output's end.
 */

/** `src` decompressed to exactly `length` bytes, or undefined when it is not LZF data of that length. */
export function lzfDecompress(src: Uint8Array, length: number): Buffer | undefined {
  const out = Buffer.allocUnsafe(length);
  let ip = 0;
  let op = 0;
  while (ip < src.length) {
    const ctrl = src[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > length || ip + run > src.length) return undefined;
      out.set(src.subarray(ip, ip + run), op);
      op += run;
      ip += run;
      continue;
    }
    let len = ctrl >> 5;
    if (len === 7) {
      if (ip >= src.length) return undefined;
      len += src[ip++]!;
    }
    if (ip >= src.length) return undefined;
    let ref = op - ((ctrl & 0x1f) << 8) - src[ip++]! - 1;
    len += 2;
    if (ref < 0 || op + len > length) return undefined;
    // Byte by byte: the reference may overlap what it writes (a repeated pattern).
    for (let k = 0; k < len; k++) out[op++] = out[ref++]!;
  }
  return op === length ? out : undefined;
}

/** Most bytes one input byte can become: a 3-byte back-reference yields at most 264. */
export const LZF_MAX_RATIO = 88;

const HLOG = 16;
const MAX_LIT = 32;
const MAX_OFF = 8192;
const MAX_REF = 264;
/** liblzf's hash table of recent positions, shared by every call: a slot counts only when stamped by the current call (no clearing). */
const table = new Int32Array(1 << HLOG);
const stamps = new Uint32Array(1 << HLOG);
let epoch = 0;
/** liblzf's hash of 3 bytes (its VERY_FAST variant, as Redis builds it). */
const idx = (h: number): number => ((h >>> (24 - HLOG)) - Math.imul(h, 5)) & ((1 << HLOG) - 1);

/**
 * `src` LZF-compressed as liblzf's lzf_compress does (Redis's build: VERY_FAST, a cleared table),
 * so kv's payloads are Redis's bytes; undefined when the result would not fit in `maxOut` bytes.
 */
export function lzfCompress(src: Uint8Array, maxOut: number): Buffer | undefined {
  const end = src.length;
  if (end < 3 || maxOut <= 0) return undefined;
  if (++epoch === 0x100000000) {
    stamps.fill(0);
    epoch = 1;
  }
  const out = Buffer.allocUnsafe(maxOut + 1);
  const slot = (h: number, at: number): number => {
    const i = idx(h);
    const ref = stamps[i] === epoch ? table[i]! : 0;
    table[i] = at;
    stamps[i] = epoch;
    return ref;
  };
  let ip = 0;
  let op = 1; // a literal run starts: its length byte goes before it
  let lit = 0;
  /** One byte copied as it is, in the literal run (closed at MAX_LIT bytes, a new one begun). */
  const literal = (): void => {
    lit++;
    out[op++] = src[ip++]!;
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  };
  let hval = (src[0]! << 8) | src[1]!;
  while (ip < end - 2) {
    hval = ((hval << 8) | src[ip + 2]!) >>> 0;
    const ref = slot(hval, ip);
    const off = ip - ref - 1;
    if (ref > 0 && off < MAX_OFF && src[ref + 2] === src[ip + 2] && src[ref] === src[ip] && src[ref + 1] === src[ip + 1]) {
      let len = 2;
      const maxlen = Math.min(end - ip - len, MAX_REF);
      if (op + 3 + 1 >= maxOut && op - (lit === 0 ? 1 : 0) + 3 + 1 >= maxOut) return undefined;
      out[op - lit - 1] = lit - 1; // the literal run ends (none: undone below)
      if (lit === 0) op--;
      let mismatch = false;
      if (maxlen > 16) {
        for (let k = 0; k < 16 && !mismatch; k++) {
          len++;
          if (src[ref + len] !== src[ip + len]) mismatch = true;
        }
      }
      if (!mismatch) {
        do len++;
        while (len < maxlen && src[ref + len] === src[ip + len]);
      }
      len -= 2; // the length field: bytes matched - 2
      ip++;
      if (len < 7) out[op++] = (off >> 8) + (len << 5);
      else {
        out[op++] = (off >> 8) + (7 << 5);
        out[op++] = len - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++;
      ip += len + 1;
      if (ip >= end - 2) break;
      ip -= 2;
      hval = (src[ip]! << 8) | src[ip + 1]!;
      hval = ((hval << 8) | src[ip + 2]!) >>> 0;
      slot(hval, ip);
      ip++;
      hval = ((hval << 8) | src[ip + 2]!) >>> 0;
      slot(hval, ip);
      ip++;
    } else {
      if (op >= maxOut) return undefined;
      literal();
    }
  }
  if (op + 3 > maxOut) return undefined;
  while (ip < end) literal();
  out[op - lit - 1] = lit - 1;
  if (lit === 0) op--;
  return out.subarray(0, op);
}
