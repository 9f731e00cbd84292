import test from 'ava';
import { readFileSync } from 'node:fs';
import { coreRegistry, firstSentence } from '@socketserver/core';
import { COMMAND, currentSettingsPage, PAGE } from '../docs/settings-page.js';

test('docs/reference/settings.md is what the settings\' declarations give', async (t) => {
  const committed = readFileSync(PAGE, 'utf8');
  t.true(committed === await currentSettingsPage(), `docs/reference/settings.md is out of date: run ${COMMAND} and commit the page`);
});

test('the page has every core and bundled plugin setting, with its flag, variable and default', async (t) => {
  const page = await currentSettingsPage();
  for (const s of coreRegistry().all()) {
    t.true(page.includes(`\n### ${s.name}\n`), s.name);
    t.true(page.includes(`| \`${s.env}\` | \`${s.name}\` |`), s.env);
  }
  t.regex(page, /^## Plugin line$/m);
  t.regex(page, /^\| `--max-line` \| `SS_MAX_LINE` \| `maxLine` \(with the plugin\) \| a size \| `64kb` \|$/m);
  for (const plugin of ['access-log', 'metrics', 'netstring', 'resp']) t.regex(page, new RegExp(`^## Plugin ${plugin}$`, 'm'));
});

test('a description\'s first sentence is its help line', (t) => {
  t.is(firstSentence('Oldest TLS version accepted. OpenSSL 3 refuses TLS 1.0.'), 'Oldest TLS version accepted');
  t.is(firstSentence('A random 0..N added per worker, so that workers do not restart together.'), 'A random 0..N added per worker, so that workers do not restart together');
  t.is(firstSentence('Config file (default: socketserver.config.ts|js|mjs, .socketserverrc*)'), 'Config file (default: socketserver.config.ts|js|mjs, .socketserverrc*)');
  t.is(firstSentence('PEM private key of certfile.'), 'PEM private key of certfile');
  for (const s of coreRegistry().all()) {
    const line = firstSentence(s.desc);
    t.true(line.length >= 20 && line.length <= 260, `${s.name}: "${line}"`);
  }
});
