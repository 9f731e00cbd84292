import test from 'ava';
import { assertLocatedError, assertOneLineError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';

const FIXTURE = 'test/fixtures/runtime/startup-trouble.mjs';
const PLUGIN = ['--plugin', 'line', '--plugin', `./${FIXTURE}`, '--bind', '127.0.0.1:0'];

/** A failure of the plugin's own code is also placed in it: FILE:LINE:COLUMN (from the repository, ss's working directory) and that line. */
type Place = { at: string; source: string };
const cases: [string, string[], string[], Place?][] = [
  ['an apply that never finishes is named after --plugin-timeout', ['--trouble', 'hang-apply', '--plugin-timeout', '0.5'],
    ['plugin "trouble" did not finish apply within 0.5s']],
  ['a throwing apply', ['--trouble', 'throw-apply'], ['plugin "trouble" failed in apply: apply exploded'],
    { at: `${FIXTURE}:15:42`, source: `throw new Error('apply exploded')` }],
  ['a workerStart that never finishes is named after --plugin-timeout', ['--trouble', 'hang-worker-start', '--plugin-timeout', '0.5'],
    ['plugin "trouble" did not finish workerStart within 0.5s']],
  ['a throwing monitorStart tap', ['--trouble', 'throw-monitor-start'], ['plugin "trouble" failed in monitorStart: monitorStart exploded'],
    { at: `${FIXTURE}:17:96`, source: `throw new Error('monitorStart exploded')` }],
  ['a workerStart tapAsync calling back with an error', ['--trouble', 'callback-error-worker-start'],
    ['plugin "trouble" failed in workerStart: workerStart called back with an error'],
    { at: `${FIXTURE}:19:80`, source: `callback(new Error('workerStart called back with an error'))` }],
];

for (const [title, args, mentions, place] of cases) {
  test(`start-up fails with exit 1 naming the plugin: ${title}`, async (t) => {
    const started = Date.now();
    const r = await runSs(['serve', ...PLUGIN, ...args]);
    if (place) assertLocatedError(t, r, 1, mentions, place.at, place.source);
    else assertOneLineError(t, { ...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n') }, 1, mentions);
    // With workers, start-up is tried 3 times before the arbiter gives up.
    t.true(Date.now() - started < 20_000, 'no waiting beyond the time limits');
  });
}
