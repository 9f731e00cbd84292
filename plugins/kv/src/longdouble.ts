/**
 * INCRBYFLOAT's arithmetic: Redis adds in C's `long double` (x87 80-bit on x86-64: a 64-bit
 * significand) and prints with `%.17Lf`, so that 0.1 + 0.2 gives "0.3", not a double's
 * 0.30000000000000004. Doubles would answer differently; this emulates the 80-bit format
 * exactly with BigInts: parse (strtold), add, round to nearest even, print.
 */

/** A finite value: (-1)^neg × m × 2^e, m < 2^64 (0 for zero); or ±Infinity. */
export type LongDouble = { readonly neg: boolean; readonly m: bigint; readonly e: number } | number;

const BITS = 64;
/** Exponent of the least significant bit of the smallest subnormal (2^-16445), and the first power of two past the largest finite value. */
const MIN_E = -16445;
const MAX_POW = 16384;
/** Redis's MAX_LONG_DOUBLE_CHARS: a longer string is not a number. */
const MAX_CHARS = 5 * 1024;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INF = /^([+-]?)(?:inf|infinity)$/i;

const bitLength = (n: bigint): number => n.toString(2).length;

/** num / den × 2^shift (num, den > 0) rounded to 64 significant bits, nearest even; ±Infinity past the largest; m 0 when it rounds to zero. */
function round(neg: boolean, num: bigint, den: bigint, shift: number): LongDouble {
  // The exponent that puts the quotient in [2^63, 2^64), then no lower than the subnormals'.
  // num/den lies in [2^(k-1), 2^(k+1)): which half tells the exponent putting m in [2^63, 2^64).
  const k = bitLength(num) - bitLength(den);
  const atLeast = k >= 0 ? num >= den << BigInt(k) : num << BigInt(-k) >= den;
  let e = shift + k - BITS + (atLeast ? 1 : 0);
  if (e < MIN_E) e = MIN_E;
  const up = shift - e;
  const n = up >= 0 ? num << BigInt(up) : num;
  const d = up >= 0 ? den : den << BigInt(-up);
  let m = n / d;
  const twice = (n - m * d) * 2n;
  if (twice > d || (twice === d && (m & 1n) === 1n)) m++;
  if (m === 1n << BigInt(BITS)) {
    m >>= 1n;
    e++;
  }
  if (m !== 0n && e + bitLength(m) > MAX_POW) return neg ? -Infinity : Infinity;
  return { neg, m, e };
}

/** A string as Redis's string2ld reads it (strtold, whole string, no leading space, no NaN, no overflow or underflow to 0), else undefined. */
export function parseLongDouble(b: Buffer): LongDouble | undefined {
  if (b.length === 0 || b.length >= MAX_CHARS) return undefined;
  const s = b.toString('latin1');
  const inf = INF.exec(s);
  if (inf !== null) return inf[1] === '-' ? -Infinity : Infinity;
  const dec = DECIMAL.exec(s);
  const hex = dec === null ? HEX.exec(s) : null;
  const match = dec ?? hex;
  if (match === null) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = match;
  if (int === '' && frac === '') return undefined; // '.', '+', 'e5'
  const neg = sign === '-';
  const digits = BigInt((hex !== null ? '0x' : '') + (int + frac || '0'));
  if (digits === 0n) return { neg, m: 0n, e: 0 };
  const power = Number(exp);
  if (hex !== null) {
    const shift = power - 4 * frac.length;
    if (shift > 2 * MAX_POW) return undefined;
    if (shift < 2 * MIN_E - 4 * MAX_CHARS) return undefined;
    const r = round(neg, digits, 1n, shift);
    return typeof r === 'number' || r.m === 0n ? undefined : r;
  }
  const exp10 = power - frac.length;
  // Far out of range either way (overflow, or below the smallest subnormal): ERANGE.
  if (exp10 > 5000 || exp10 + (int + frac).length < -5000) return undefined;
  const r = exp10 >= 0 ? round(neg, digits * 10n ** BigInt(exp10), 1n, 0) : round(neg, digits, 10n ** BigInt(-exp10), 0);
  return typeof r === 'number' || r.m === 0n ? undefined : r;
}

/** a + b rounded as the FPU does; NaN for ∞ − ∞. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble {
  if (typeof a === 'number' || typeof b === 'number') return (typeof a === 'number' ? a : 0) + (typeof b === 'number' ? b : 0);
  if (a.m === 0n) return b.m === 0n ? { neg: a.neg && b.neg, m: 0n, e: 0 } : b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const sum = (a.neg ? -1n : 1n) * (a.m << BigInt(a.e - e)) + (b.neg ? -1n : 1n) * (b.m << BigInt(b.e - e));
  if (sum === 0n) return { neg: false, m: 0n, e: 0 };
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** Redis's ld2string(LD_STR_HUMAN): `%.17Lf` without trailing zeros (nor the point), "-0" as "0". */
export function formatLongDouble(v: LongDouble): string {
  if (typeof v === 'number') return v > 0 ? 'inf' : '-inf';
  let text: string;
  if (v.e >= 0) {
    text = (v.m << BigInt(v.e)).toString();
  } else {
    const scaled = v.m * 10n ** 17n;
    const shift = BigInt(-v.e);
    let q = scaled >> shift;
    const twice = (scaled - (q << shift)) * 2n;
    const unit = 1n << shift;
    if (twice > unit || (twice === unit && (q & 1n) === 1n)) q++;
    const digits = q.toString().padStart(18, '0');
    const frac = digits.slice(-17).replace(/0+$/, '');
    text = digits.slice(0, -17) + (frac === '' ? '' : `.${frac}`);
  }
  text = (v.neg ? '-' : '') + text;
  return text === '-0' ? '0' : text;
}

export const isFinite = (v: LongDouble): v is Exclude<LongDouble, number> => typeof v !== 'number' || Number.isFinite(v);
