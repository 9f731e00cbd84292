import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

type ErrorLocationModule = typeof import('../../core/dist/config/error-location.js');
const { codeFrame, errorLocation, firstLine, shownPath, userFrames } =
  await import(pathToFileURL(join(REPO, 'core', 'dist', 'config', 'error-location.js')).href) as ErrorLocationModule;

const SOURCE = ['function connect(url) {', '  if (!url) throw new Error(\'no url\');', '}', 'connect();'].join('\n');

test('codeFrame: the line marked, one line of context either side, the caret under the column', (t) => {
  t.is(codeFrame(SOURCE, 2, 13), [
    '  1 | function connect(url) {',
    '> 2 |   if (!url) throw new Error(\'no url\');',
    '    |             ^',
    '  3 | }',
  ].join('\n'));
  t.is(codeFrame(SOURCE, 1, 1), '> 1 | function connect(url) {\n    | ^\n  2 |   if (!url) throw new Error(\'no url\');', 'no line before the first');
  t.is(codeFrame(SOURCE, 4, 8), '  3 | }\n> 4 | connect();\n    |        ^', 'no line after the last');
});

test('codeFrame: numbers as wide as the widest, tabs kept under the caret, nothing for a line not there or too long', (t) => {
  const lines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`);
  lines[9] = '\tx = 1;';
  t.is(codeFrame(lines.join('\n'), 10, 2), '   9 | line 9\n> 10 | \tx = 1;\n     | \t^');
  t.is(codeFrame(SOURCE, 9, 1), '');
  t.is(codeFrame(`${'x'.repeat(500)}\n`, 1, 3), '', 'minified code is not shown');
});

test('userFrames: only the user\'s frames, in order; not Node\'s, not ss\'s own, not a package\'s', (t) => {
  const stack = [
    'TypeError: Cannot read properties of undefined (reading \'url\')',
    '    at Object.apply (file:///home/me/app/plugin.mjs:4:27)',
    `    at startupStep (file://${REPO}core/dist/plugins/startup-step.js:12:5)`,
    `    at Hook.call (${REPO}node_modules/tapable/lib/Hook.js:3:9)`,
    '    at Module._compile (node:internal/modules/cjs/loader:1256:14)',
    '    at Array.map (<anonymous>)',
    '    at eval (eval at run (/home/me/app/x.js:1:1), <anonymous>:1:1)',
    '    at async Promise.all (index 0)',
    '    at lib (/home/me/app/node_modules/some-lib/index.js:9:1)',
    '    at /home/me/app/handler.ts:7:3',
  ].join('\n');
  t.deepEqual(userFrames(stack).map((f) => [f.file, f.line, f.column, f.fn]), [
    ['/home/me/app/plugin.mjs', 4, 27, 'Object.apply'],
    ['/home/me/app/handler.ts', 7, 3, undefined],
  ]);
  t.deepEqual(userFrames('Error: x\n    at node:internal/process/task_queues:95:5'), []);
});

test('shownPath: relative to the working directory when inside it, else absolute', (t) => {
  t.is(shownPath('/home/me/app/plugins/x.mjs', '/home/me/app'), 'plugins/x.mjs');
  t.is(shownPath('/srv/other/x.mjs', '/home/me/app'), '/srv/other/x.mjs');
});

test('firstLine: the message\'s first line, without the spaces jiti leaves at its end', (t) => {
  t.is(firstLine(new Error('ParseError: Unexpected token  \n /a/b.ts:4:29')), 'ParseError: Unexpected token');
  t.is(firstLine('plain'), 'plain');
});

test('errorLocation: a thrown error\'s user frames, then the code at the first', (t) => {
  const dir = tempDir(t, 'errloc-unit');
  const file = join(dir, 'plugin.mjs');
  writeFileSync(file, SOURCE);
  const err = { stack: `Error: no url\n    at connect (file://${file}:2:19)\n    at file://${file}:4:1\n    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)` };
  t.deepEqual(errorLocation(err, undefined, dir), {
    at: 'plugin.mjs:2:19',
    text: [
      '    at connect (plugin.mjs:2:19)',
      '    at plugin.mjs:4:1',
      '',
      '      1 | function connect(url) {',
      '    > 2 |   if (!url) throw new Error(\'no url\');',
      '        |                   ^',
      '      3 | }',
    ].join('\n'),
  });
});

test('errorLocation: where a module failed to parse, from jiti\'s message (column from 0) or Node\'s caret', (t) => {
  const dir = tempDir(t, 'errloc-unit');
  const file = join(dir, 'bad.ts');
  writeFileSync(file, 'const a = 1;\nconst b = (;\n');
  t.is(errorLocation(new Error(`ParseError: Unexpected token  \n ${file}:2:11`), undefined, dir)?.at, 'bad.ts:2:12');
  const node = { name: 'SyntaxError', stack: `${file}:2\nconst b = (;\n           ^\n\nSyntaxError: Unexpected token ';'\n    at wrapSafe (node:internal/modules/cjs/loader:1464:18)` };
  const found = errorLocation(node, undefined, dir);
  t.is(found?.at, 'bad.ts:2:12');
  t.true(found?.text.includes('    > 2 | const b = (;'), found?.text);
});

test('errorLocation: nothing for an error with no frame of the user\'s, or no stack at all', (t) => {
  t.is(errorLocation({ stack: `Error: x\n    at f (file://${REPO}core/dist/x.js:1:1)` }), undefined);
  t.is(errorLocation('a string'), undefined);
  t.is(errorLocation(null), undefined);
});
