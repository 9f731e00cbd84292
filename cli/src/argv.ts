import type { Setting } from '@socketserver/core';

/**
 * Rewrite every value-taking flag as `--long=value` before parsing, so that a value
 * beginning with `-` (`--keep-alive -1`) stays a value, and `-b` and `--bind` given
 * together keep every value. `values` names the commands' own value-taking flags (not
 * settings: `--pid`, `--interval`...). Unknown flags pass through for the strict parse to reject.
 */
export function normalizeArgv(args: readonly string[], settings: readonly Setting[], values: readonly string[] = []): string[] {
  const longs = new Map<string, string>();
  for (const v of values) longs.set(`--${v}`, v);
  for (const s of settings) {
    longs.set(`--${s.long}`, s.long);
    if (s.short) longs.set(`-${s.short}`, s.long);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const long = arg.startsWith('-') ? longs.get(flag) : undefined;
    if (long === undefined) out.push(arg);
    else if (eq !== -1) out.push(`--${long}=${arg.slice(eq + 1)}`);
    else out.push(`--${long}=${args[++i] ?? ''}`);
  }
  return out;
}
