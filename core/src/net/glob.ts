/**
 * Redis's glob (`stringmatchlen`), case-sensitive, on latin1 strings (one char per byte):
 * `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escaping the next character.
 *
 * The pattern is read once into tokens, each matching exactly one character except `*`.
 * Matching then walks the string once, remembering only the last `*` seen: when a token
 * fails, that `*` takes one more character and the tokens after it are tried again. An
 * earlier `*` never needs to take more (whatever it would take, the last one can), so the
 * work is at most pattern × string steps, whatever the pattern: no exponential
 * backtracking (CVE-2022-36021).
 */

const STAR = 0;
const ANY = 1;
const CHAR = 2;
const CLASS = 3;

/** One token: its kind, and for CHAR the char code, for CLASS the ranges (pairs lo, hi) and whether negated. */
interface Token {
  readonly kind: number;
  readonly code: number;
  readonly ranges: readonly number[];
  readonly not: boolean;
}

const NO_RANGES: readonly number[] = [];
const STAR_TOKEN: Token = { kind: STAR, code: 0, ranges: NO_RANGES, not: false };
const ANY_TOKEN: Token = { kind: ANY, code: 0, ranges: NO_RANGES, not: false };

/** The tokens of `pat`, read as Redis's stringmatchlen reads them (an unterminated class runs to the end). */
function tokenize(pat: string): Token[] {
  const tokens: Token[] = [];
  const plen = pat.length;
  for (let p = 0; p < plen; p++) {
    const c = pat[p];
    if (c === '*') {
      if (tokens[tokens.length - 1] !== STAR_TOKEN) tokens.push(STAR_TOKEN); // `**` is `*`
    } else if (c === '?') {
      tokens.push(ANY_TOKEN);
    } else if (c === '[') {
      p++;
      const not = pat[p] === '^';
      if (not) p++;
      const ranges: number[] = [];
      for (;;) {
        if (pat[p] === '\\' && plen - p >= 2) {
          p++;
          ranges.push(pat.charCodeAt(p), pat.charCodeAt(p));
        } else if (pat[p] === ']') {
          break;
        } else if (p >= plen) {
          p--; // unterminated: the class ends with the pattern
          break;
        } else if (plen - p >= 3 && pat[p + 1] === '-') {
          const a = pat.charCodeAt(p);
          const b = pat.charCodeAt(p + 2);
          ranges.push(Math.min(a, b), Math.max(a, b));
          p += 2;
        } else {
          ranges.push(pat.charCodeAt(p), pat.charCodeAt(p));
        }
        p++;
      }
      tokens.push({ kind: CLASS, code: 0, ranges, not });
    } else {
      if (c === '\\' && plen - p >= 2) p++;
      tokens.push({ kind: CHAR, code: pat.charCodeAt(p), ranges: NO_RANGES, not: false });
    }
  }
  return tokens;
}

function one(t: Token, ch: number): boolean {
  if (t.kind === CHAR) return t.code === ch;
  if (t.kind === ANY) return true;
  const r = t.ranges;
  let match = false;
  for (let i = 0; i < r.length && !match; i += 2) match = ch >= r[i]! && ch <= r[i + 1]!;
  return match !== t.not;
}

function matchTokens(tokens: readonly Token[], str: string): boolean {
  const n = tokens.length;
  const slen = str.length;
  // As Redis: an empty string matches only the empty pattern (not even `*`).
  if (slen === 0) return n === 0;
  let p = 0;
  let s = 0;
  let star = -1; // the token after the last `*` seen
  let starS = 0; // where the string stood when the tokens after it were last tried
  while (s < slen) {
    if (p < n) {
      const t = tokens[p]!;
      if (t.kind === STAR) {
        star = ++p;
        starS = s;
        continue;
      }
      if (one(t, str.charCodeAt(s))) {
        p++;
        s++;
        continue;
      }
    }
    if (star < 0) return false;
    p = star;
    s = ++starS;
  }
  while (p < n && tokens[p]!.kind === STAR) p++;
  return p === n;
}

/** A matcher for `pattern`, read once: for KEYS, matched against every key. */
export function compileGlob(pattern: string): (str: string) => boolean {
  const tokens = tokenize(pattern);
  return (str) => matchTokens(tokens, str);
}

export function globMatch(pattern: string, str: string): boolean {
  return matchTokens(tokenize(pattern), str);
}
