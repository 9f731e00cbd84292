import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// Settings in seconds: at most what a timer can wait (2147483 s); beyond that, a usage error.

const BIND0 = ['--bind', '127.0.0.1:0'];

const TOO_LONG: { title: string; args: string[]; env?: Record<string, string>; mentions: string[] }[] = [
  { title: '--graceful-timeout 2147484', args: ['--graceful-timeout', '2147484'], mentions: ['--graceful-timeout', '2147484', 'from 0 to 2147483'] },
  { title: '--plugin-timeout 3000000', args: ['--plugin-timeout', '3000000'], mentions: ['--plugin-timeout', '3000000', 'from 0 to 2147483'] },
  { title: '--timeout 99999999999', args: ['--timeout', '99999999999'], mentions: ['--timeout', '99999999999', 'from 0 to 2147483'] },
  { title: 'SS_KEEP_ALIVE=2147483.5', args: [], env: { SS_KEEP_ALIVE: '2147483.5' }, mentions: ['SS_KEEP_ALIVE', 'from 0 to 2147483'] },
];

for (const c of TOO_LONG) {
  test(`${c.title}, beyond setTimeout's range: exit 2, one line naming the setting`, async (t) => {
    const cwd = tempDir(t, 'secs');
    assertOneLineError(t, await runSs(['serve', '--plugin', 'echo', ...BIND0, ...c.args], { cwd, env: c.env ?? {} }), 2, c.mentions);
  });
}

test('keep_alive beyond setTimeout\'s range in a config file: exit 2, naming it and the file', async (t) => {
  const cwd = tempDir(t, 'secs-conf');
  const file = join(cwd, 'socketserver.config.mjs');
  writeFileSync(file, 'export default { plugins: [\'echo\'], keep_alive: 1e9 };\n');
  assertOneLineError(t, await runSs(['config'], { cwd }), 2, [`keep_alive in ${file}`, 'from 0 to 2147483']);
});

test('the longest seconds a timer can wait, 2147483, are accepted', async (t) => {
  const cwd = tempDir(t, 'secs-max');
  const r = await runSs(['config', '--json', '--plugin', 'echo', '--graceful-timeout', '2147483', '--keep-alive', '2147483'], { cwd });
  t.is(r.code, 0, r.stderr);
  const settings = JSON.parse(r.stdout).settings;
  t.is(settings.graceful_timeout.value, 2147483);
  t.is(settings.keep_alive.value, 2147483);
});

test('durations take units as sizes do: 1m on the command line, 500ms in the environment, \'1.5h\' in a config; an unknown unit is exit 2', async (t) => {
  const cwd = tempDir(t, 'secs-units');
  writeFileSync(join(cwd, 'socketserver.config.mjs'), 'export default { plugins: [\'echo\'], frame_timeout: \'1.5h\', handler_timeout: 45 };\n');
  const r = await runSs(['config', '--json', '--graceful-timeout', '1m', '--timeout', '2.5s'], { cwd, env: { SS_KEEP_ALIVE: '500ms' } });
  t.is(r.code, 0, r.stderr);
  const settings = JSON.parse(r.stdout).settings;
  t.is(settings.graceful_timeout.value, 60);
  t.is(settings.timeout.value, 2.5);
  t.is(settings.keep_alive.value, 0.5);
  t.is(settings.frame_timeout.value, 5400);
  t.is(settings.handler_timeout.value, 45);
  assertOneLineError(t, await runSs(['serve', '--plugin', 'echo', ...BIND0, '--keep-alive', '30d'], { cwd: tempDir(t, 'secs-bad') }), 2,
    ['--keep-alive', '30d', '500ms, 30s, 5m or 1h']);
});
