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
