import test from 'ava';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';

const PLUGIN = ['--plugin', 'line', '--plugin', './test/fixtures/runtime/startup-trouble.mjs', '--bind', '127.0.0.1:0'];

const cases: [string, string[], string[]][] = [
  ['an apply that never finishes is named after --plugin-timeout', ['--trouble', 'hang-apply', '--plugin-timeout', '0.5'],
    ['plugin "trouble" did not finish apply within 0.5s']],
  ['a throwing apply', ['--trouble', 'throw-apply'], ['plugin "trouble" failed in apply: apply exploded']],
  ['a workerStart that never finishes is named after --plugin-timeout', ['--trouble', 'hang-worker-start', '--plugin-timeout', '0.5'],
    ['plugin "trouble" did not finish workerStart within 0.5s']],
  ['a throwing monitorStart tap', ['--trouble', 'throw-monitor-start'], ['plugin "trouble" failed in monitorStart: monitorStart exploded']],
  ['a workerStart tapAsync calling back with an error', ['--trouble', 'callback-error-worker-start'],
    ['plugin "trouble" failed in workerStart: workerStart called back with an error']],
];

for (const [title, args, mentions] of cases) {
  test(`start-up fails with exit 1 naming the plugin: ${title}`, async (t) => {
    const started = Date.now();
    const r = await runSs(['serve', ...PLUGIN, ...args]);
    assertOneLineError(t, { ...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n') }, 1, mentions);
    // With workers, start-up is tried 3 times before the arbiter gives up.
    t.true(Date.now() - started < 20_000, 'no waiting beyond the time limits');
  });
}
