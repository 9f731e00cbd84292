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

/**
 * Exit code `code`; on stderr (log lines aside) the one line `ss: ...` naming each of `mentions`,
 * then where in the user's code: stack frames, the first at `at` (FILE:LINE:COLUMN) and none of
 * Node's, a package's or ss's own, then the code there with `source` on the marked line and the
 * caret under the column. Plain text (no colours).
 */
export function assertLocatedError(t: ExecutionContext, r: Result, code: number, mentions: readonly string[], at: string, source: string): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
  t.is(r.code, code, `exit code; stderr:\n${r.stderr}`);
  t.true(lines[0]?.startsWith('ss: '), `starts with "ss: ": ${lines[0]}`);
  for (const m of mentions) t.true(lines[0]?.includes(m), `"${m}" is named in: ${lines[0]}`);
  t.false(lines.slice(1).some((l) => l.startsWith('ss: ')), `one failure said:\n${r.stderr}`);
  t.false(r.stderr.includes('\x1b['), 'no colours');
  const frames = lines.filter((l) => /^\s+at /.test(l));
  t.true(frames.length >= 1, `frames under the line:\n${r.stderr}`);
  t.true(frames[0]!.endsWith(` ${at}`) || frames[0]!.endsWith(`(${at})`), `the first frame is at ${at}: ${frames[0]}`);
  t.deepEqual(frames.filter((l) => /node:|node_modules|\/(core|cli)\/dist\/|\/plugins\/[^/]+\/dist\//.test(l)), [], 'only the user\'s frames');
  const [, line, column] = /:(\d+):(\d+)$/.exec(at)!;
  const marked = lines.findIndex((l) => new RegExp(`^\\s+> +${line} \\| `).test(l));
  t.true(marked > 0, `the code at line ${line} is shown:\n${r.stderr}`);
  t.true(lines[marked]!.includes(source), `line ${line} is "${source}": ${lines[marked]}`);
  const bar = lines[marked]!.indexOf('| ') + 2;
  t.is(lines[marked + 1]!.indexOf('^') - bar + 1, Number(column), `the caret is under column ${column}:\n${lines[marked]}\n${lines[marked + 1]}`);
}
