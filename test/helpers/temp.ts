import type { ExecutionContext } from 'ava';
import { chmodSync, cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './ss.js';

export const FIXTURES = join(REPO, 'test', 'fixtures');

/** A fresh folder under the system temp dir, holding a copy of `fixture` if given; removed at teardown. */
export function tempDir(t: ExecutionContext, prefix: string, fixture?: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `ss-${prefix}-`)));
  t.teardown(() => {
    chmodSync(dir, 0o700); // a test may have made it read-only
    rmSync(dir, { recursive: true, force: true });
  });
  if (fixture) cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  return dir;
}
