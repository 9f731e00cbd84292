import type { ExecutionContext } from 'ava';
import type { Result } from './ss.js';

/** Exit code `code`, and stderr exactly one line `ss: ...` mentioning each of `mentions`, with no stack trace. */
export function assertOneLineError(t: ExecutionContext, r: Result, code: number, mentions: readonly string[]): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  t.is(r.code, code, `exit code; stderr:\n${r.stderr}`);
  t.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  t.true(lines[0]?.startsWith('ss: '), `starts with "ss: ": ${lines[0]}`);
  t.false(/^\s+at /m.test(r.stderr), `no stack trace:\n${r.stderr}`);
  for (const m of mentions) t.true(lines[0]?.includes(m), `"${m}" is named in: ${lines[0]}`);
}
