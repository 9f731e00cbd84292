import test from 'ava';
import { coreRegistry, defineConfig, firstSentence, settingsPage, type PluginOptions } from '@socketserver/core';
import { REPO, runSs } from '../helpers/ss.js';
import greeter from './settings-chain-plugin.js';

// The compiled plugin, as ss loads it by path.
const PLUGIN = new URL('./settings-chain-plugin.js', import.meta.url).pathname;

test('a plugin setting declared once is typed in a config, and the config refuses a wrong value', (t) => {
  const config = defineConfig({ plugins: [[PLUGIN, { greeting: 'hello' } satisfies PluginOptions<typeof greeter>]] });
  // @ts-expect-error: not one of greeting's choices
  const wrong = { greeting: 'yo' } satisfies PluginOptions<typeof greeter>;
  // @ts-expect-error: no such setting
  const unknown = { greetin: 'hi' } satisfies PluginOptions<typeof greeter>;
  t.truthy(config.plugins && wrong && unknown);
});

test('the setting is in ss serve --help (its first sentence), in ss config, and in the settings page', async (t) => {
  const help = await runSs(['serve', '--help', '--plugin', PLUGIN, '--plugin', 'line'], { cwd: REPO });
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^\s+--greeting\s+\[greeter\] How each reply begins \(env SS_GREETING; default hi\)$/m);
  t.false(help.stdout.includes('Said before every message'), 'only the first sentence');
  for (const s of coreRegistry().all()) t.true(help.stdout.includes(`--${s.long}`) && help.stdout.includes(firstSentence(s.desc)), s.name);

  const config = await runSs(['config', '--json', '--plugin', PLUGIN, '--plugin', 'line', '--greeting', 'hello'], { cwd: REPO });
  t.is(config.code, 0, config.stderr);
  const settings = (JSON.parse(config.stdout) as { settings: Record<string, unknown> }).settings;
  t.deepEqual(settings.greeting, { value: 'hello', source: 'cli', from: '--greeting', owner: 'greeter' });

  const registry = coreRegistry();
  registry.add(greeter.name, greeter.settings!);
  const page = settingsPage(registry, 'test');
  t.regex(page, /^## Plugin greeter$/m);
  t.regex(page, /^\| `--greeting` \| `SS_GREETING` \| `greeting` \(with the plugin\) \| one of `hi`, `hello` \| `hi` \|$/m);
  t.true(page.includes('How each reply begins. Said before every message, with a space.'));
});
