import test from 'ava';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/ss.js';

// Not part of the package's API: loaded from its built file.
type PrivateDirModule = typeof import('../../core/dist/config/private-dir.js');
const { untrusted } = await import(pathToFileURL(join(REPO, 'core', 'dist', 'config', 'private-dir.js')).href) as PrivateDirModule;

const ME = 1000;
const stat = (kind: 'folder' | 'socket' | 'file', uid: number, mode: number) => ({
  uid, mode, isDirectory: () => kind === 'folder', isSocket: () => kind === 'socket',
});

test('a control folder or socket of ours, closed to others, is trusted', (t) => {
  t.is(untrusted('/d', stat('folder', ME, 0o40700), 'folder', ME), undefined);
  t.is(untrusted('/d/1.sock', stat('socket', ME, 0o140600), 'socket', ME), undefined);
});

test('another user\'s folder or socket is not, whatever its mode', (t) => {
  t.regex(untrusted('/d', stat('folder', 0, 0o40700), 'folder', ME)!, /^\/d belongs to another user \(uid 0\)/);
  t.regex(untrusted('/d/1.sock', stat('socket', 4242, 0o140600), 'socket', ME)!, /belongs to another user \(uid 4242\)/);
});

test('a folder or socket others may use is not, nor something of the wrong kind', (t) => {
  for (const mode of [0o750, 0o705, 0o701, 0o710, 0o777]) {
    t.regex(untrusted('/d', stat('folder', ME, 0o40000 | mode), 'folder', ME)!, new RegExp(`open to other users \\(mode ${mode.toString(8)}\\)`));
  }
  t.regex(untrusted('/d/1.sock', stat('socket', ME, 0o140660), 'socket', ME)!, /open to other users \(mode 660\)/);
  t.regex(untrusted('/d', stat('file', ME, 0o100700), 'folder', ME)!, /is not a folder/);
  t.regex(untrusted('/d/1.sock', stat('file', ME, 0o100600), 'socket', ME)!, /is not a socket/);
});
