import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertLocatedError, assertOneLineError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// A plugin's mistakes and failures: one line, no stack (of ss's own: a failure of the plugin's code is placed in it).

const BIND0 = ['--bind', '127.0.0.1:0'];

const PLUGIN_MISTAKES: { title: string; source: string; code: number; mentions: string[] }[] = [
  { title: 'a setting without flags', source: `export default { name: 'noflags', settings: { depth: { desc: 'd' } } };`,
    code: 2, mentions: ['plugin "noflags"', 'depth', 'flags'] },
  { title: 'a setting whose flags are a string', source: `export default { name: 'strflags', settings: { depth: { flags: '--depth', desc: 'd' } } };`,
    code: 2, mentions: ['plugin "strflags"', 'depth', 'flags'] },
  { title: 'a setting that is null', source: `export default { name: 'nullset', settings: { depth: null } };`,
    code: 2, mentions: ['plugin "nullset"', 'depth'] },
  { title: 'a setting of an unknown type', source: `export default { name: 'badtype', settings: { depth: { flags: ['--depth'], type: 'float', desc: 'd' } } };`,
    code: 2, mentions: ['plugin "badtype"', 'depth', '"float"'] },
  { title: 'a validate that throws a string', source: `export default { name: 'strval', settings: { depth: { flags: ['--depth'], default: '3', desc: 'd', validate() { throw 'a depth from 1 to 2'; } } } };`,
    code: 2, mentions: ['depth', 'a depth from 1 to 2'] },
  { title: 'a handler(cfg) factory that returns no function', source: `export default { name: 'hnone', handler() { return 42; } };`,
    code: 2, mentions: ['plugin "hnone"', 'handler', 'not a function'] },
];

for (const c of PLUGIN_MISTAKES) {
  for (const workers of ['0', '1']) {
    test(`a plugin with ${c.title}, workers ${workers}: exit ${c.code}, one line`, async (t) => {
      const cwd = tempDir(t, 'badplugin');
      writeFileSync(join(cwd, 'bad.mjs'), `${c.source}\n`);
      const r = await runSs(['serve', '--plugin', 'line', '--plugin', './bad.mjs', '--workers', workers, ...BIND0], { cwd });
      assertOneLineError(t, r, c.code, c.mentions);
    });
  }
}

for (const workers of ['0', '1']) {
  test(`a plugin with a handler(cfg) factory that throws, workers ${workers}: exit 1, one line, then where in the plugin`, async (t) => {
    const cwd = tempDir(t, 'badplugin');
    const throws = `export default { name: 'hthrow', handler() { throw new Error('no database'); } };`;
    writeFileSync(join(cwd, 'bad.mjs'), `${throws}\n`);
    const r = await runSs(['serve', '--plugin', 'line', '--plugin', './bad.mjs', '--workers', workers, ...BIND0], { cwd });
    assertLocatedError(t, r, 1, ['plugin "hthrow"', 'handler', 'no database'], `bad.mjs:1:${throws.indexOf('new Error') + 1}`, throws);
  });
}
