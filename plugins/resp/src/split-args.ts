/**
 * An inline command split into arguments as Redis's `sdssplitargs` does: spaces and tabs
 * separate, `"..."` takes `\xHH \n \r \t \b \a` and `\<any>` escapes, `'...'` takes `\'`,
 * a closing quote must be followed by a space or the end. A NUL byte ends the line (C string).
 * Returns undefined on unbalanced quotes. Works on bytes, so arguments stay binary.
 */
export function splitArgs(line: Buffer): Buffer[] | undefined {
  const args: Buffer[] = [];
  const n = line.length;
  let p = 0;
  let bytes: number[] | null;
  for (;;) {
    while (p < n && isSpace(line[p]!)) p++;
    if (p >= n || line[p] === 0) return args;
    let inq = false;
    let insq = false;
    // Unquoted runs are copied as one slice; bytes only when quoting or escapes change them.
    const from = p;
    bytes = null;
    for (;;) {
      const c = p < n ? line[p]! : 0;
      if (inq) {
        if (c === 0) return undefined;
        if (c === BACKSLASH && line[p + 1] === X && isHex(line[p + 2]) && isHex(line[p + 3])) {
          bytes!.push(hex(line[p + 2]!) * 16 + hex(line[p + 3]!));
          p += 3;
        } else if (c === BACKSLASH && p + 1 < n && line[p + 1] !== 0) {
          p++;
          const e = line[p]!;
          bytes!.push(e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e);
        } else if (c === DQUOTE) {
          if (p + 1 < n && line[p + 1] !== 0 && !isSpace(line[p + 1]!)) return undefined;
          p++;
          break;
        } else bytes!.push(c);
      } else if (insq) {
        if (c === 0) return undefined;
        if (c === BACKSLASH && line[p + 1] === SQUOTE) {
          p++;
          bytes!.push(SQUOTE);
        } else if (c === SQUOTE) {
          if (p + 1 < n && line[p + 1] !== 0 && !isSpace(line[p + 1]!)) return undefined;
          p++;
          break;
        } else bytes!.push(c);
      } else if (c === 0 || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        break;
      } else if (c === DQUOTE || c === SQUOTE) {
        bytes ??= [...line.subarray(from, p)];
        if (c === DQUOTE) inq = true;
        else insq = true;
      } else if (bytes !== null) bytes.push(c);
      p++;
    }
    args.push(bytes === null ? line.subarray(from, p) : Buffer.from(bytes));
  }
}

const BACKSLASH = 0x5c;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const X = 0x78;

/** C's isspace. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
}

function hex(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}
