/**
 * Redis's glob (`stringmatchlen`), case-sensitive, on latin1 strings (one char per byte):
 * `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escaping the next character.
 */
export function globMatch(pattern: string, str: string): boolean {
  return matchFrom(pattern, 0, str, 0);
}

function matchFrom(pat: string, p: number, str: string, s: number): boolean {
  const plen = pat.length;
  const slen = str.length;
  while (p < plen && s < slen) {
    const c = pat[p];
    if (c === '*') {
      while (p + 1 < plen && pat[p + 1] === '*') p++;
      if (p + 1 === plen) return true;
      for (; s < slen; s++) if (matchFrom(pat, p + 1, str, s)) return true;
      return false;
    } else if (c === '?') {
      s++;
    } else if (c === '[') {
      p++;
      const not = pat[p] === '^';
      if (not) p++;
      let match = false;
      for (;;) {
        if (pat[p] === '\\' && plen - p >= 2) {
          p++;
          if (pat[p] === str[s]) match = true;
        } else if (pat[p] === ']') {
          break;
        } else if (p >= plen) {
          p--; // an unterminated class: as Redis, stop at the last character
          break;
        } else if (plen - p >= 3 && pat[p + 1] === '-') {
          let start = pat.charCodeAt(p);
          let end = pat.charCodeAt(p + 2);
          const ch = str.charCodeAt(s);
          if (start > end) [start, end] = [end, start];
          p += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (pat[p] === str[s]) {
          match = true;
        }
        p++;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
    } else {
      if (c === '\\' && plen - p >= 2) p++;
      if (pat[p] !== str[s]) return false;
      s++;
    }
    p++;
    if (s === slen) {
      while (p < plen && pat[p] === '*') p++;
      break;
    }
  }
  return p === plen && s === slen;
}
