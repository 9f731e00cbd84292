/**
 * Redis's CRC-64 (crc64.c: the Jones polynomial 0xad93d23594c935a9, reflected, initial value 0,
 * no final xor): the checksum of DUMP payloads and RDB files. Table-driven, on two 32-bit halves
 * (a BigInt per byte would be far slower over a whole dataset).
 */
const HI = new Uint32Array(256);
const LO = new Uint32Array(256);
{
  let poly = 0n; // the polynomial bit-reversed, for the reflected (LSB-first) form
  for (let i = 0n, p = 0xad93d23594c935a9n; i < 64n; i++) if ((p >> i) & 1n) poly |= 1n << (63n - i);
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    HI[i] = Number(c >> 32n);
    LO[i] = Number(c & 0xffffffffn);
  }
}

/** The CRC of `data` continuing from `crc` (0 to start). */
export function crc64(crc: bigint, data: Uint8Array): bigint {
  let hi = Number(crc >> 32n) | 0;
  let lo = Number(crc & 0xffffffffn) | 0;
  for (let i = 0; i < data.length; i++) {
    const t = (lo ^ data[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ LO[t]!;
    hi = (hi >>> 8) ^ HI[t]!;
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
