import test from 'ava';
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// Not part of the package's API: loaded from its built file.
type PidfileModule = typeof import('../../core/dist/process/pidfile.js');
const { Pidfile } = await import(pathToFileURL(join(REPO, 'core', 'dist', 'process', 'pidfile.js')).href) as PidfileModule;

const STALE = 2 ** 22 + 12345; // above pid_max's default: no such process

test('a stale pidfile replaced by a live server\'s just before it is moved aside: the live one is put back, and start-up refused', (t) => {
  const dir = tempDir(t, 'pidrace');
  const path = join(dir, 'ss.pid');
  writeFileSync(path, `${STALE}\n`);
  const staleIno = lstatSync(path).ino;
  let swaps = 0;
  const err = t.throws(() => Pidfile.create(path, {
    beforeAside: () => {
      swaps++;
      // Another server wins the race: its pidfile (naming a live process) replaces the stale one.
      writeFileSync(join(dir, 'other'), `${process.ppid}\n`);
      renameSync(join(dir, 'other'), path);
    },
  }));
  t.is(swaps, 1);
  t.regex(err!.message, new RegExp(`already running as pid ${process.ppid}`));
  t.is(readFileSync(path, 'utf8'), `${process.ppid}\n`, 'the live server\'s pidfile is in place');
  t.not(lstatSync(path).ino, staleIno);
  t.deepEqual(readdirSync(dir), ['ss.pid'], 'nothing left aside');
});

test('a stale pidfile removed by someone else just before it is moved aside: ours is written', (t) => {
  const dir = tempDir(t, 'pidgone');
  const path = join(dir, 'ss.pid');
  writeFileSync(path, `${STALE}\n`);
  const pidfile = Pidfile.create(path, { beforeAside: () => renameSync(path, join(dir, 'elsewhere')) });
  t.is(readFileSync(path, 'utf8'), `${process.pid}\n`);
  t.is(pidfile.replaced, STALE);
  pidfile.remove();
  t.false(existsSync(path));
  t.deepEqual(readdirSync(dir), ['elsewhere']);
});

test('a pidfile that keeps being replaced by stale ones: refused after a bounded number of attempts', (t) => {
  const dir = tempDir(t, 'pidloop');
  const path = join(dir, 'ss.pid');
  writeFileSync(path, 'garbage\n');
  let swaps = 0;
  const err = t.throws(() => Pidfile.create(path, {
    beforeAside: () => {
      swaps++;
      writeFileSync(join(dir, 'other'), `${STALE}\n`);
      renameSync(join(dir, 'other'), path); // a different file each time: always put back
    },
  }));
  t.regex(err!.message, /still contested after \d+ attempts/);
  t.true(swaps >= 2 && swaps <= 10, `${swaps} attempts`);
  t.deepEqual(readdirSync(dir), ['ss.pid'], 'nothing left aside');
});

test('remove() leaves a pidfile that is no longer ours', (t) => {
  const dir = tempDir(t, 'pidremove');
  const path = join(dir, 'ss.pid');
  const pidfile = Pidfile.create(path);
  t.is(readFileSync(path, 'utf8'), `${process.pid}\n`);
  writeFileSync(join(dir, 'other'), `${process.pid}\n`); // same content, another file
  renameSync(join(dir, 'other'), path);
  pidfile.remove();
  t.true(existsSync(path));
});
