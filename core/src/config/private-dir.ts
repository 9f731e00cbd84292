import { lstatSync, mkdirSync, type Stats } from 'node:fs';

/**
 * Why a folder or socket meant for this user alone cannot be trusted (someone else could
 * have put it there, or could read or replace what is in it), or undefined.
 */
export function untrusted(path: string, st: Pick<Stats, 'uid' | 'mode' | 'isDirectory' | 'isSocket'>, kind: 'folder' | 'socket',
  uid = process.getuid?.()): string | undefined {
  if (kind === 'folder' ? !st.isDirectory() : !st.isSocket()) return `${path} is not a ${kind}`;
  if (uid !== undefined && st.uid !== uid) return `${path} belongs to another user (uid ${st.uid})`;
  if ((st.mode & 0o077) !== 0) return `${path} is open to other users (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

/** `dir`, created (mode 0700) if missing; an error if someone else owns it or others may enter it. */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const problem = untrusted(dir, lstatSync(dir), 'folder');
  if (problem) throw new Error(problem);
  return dir;
}
