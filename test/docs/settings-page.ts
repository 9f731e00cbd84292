// Writes docs/reference/settings.md from the settings' declarations: core's and those of every
// plugin under plugins/ (`npm run docs:settings`). test/unit/settings-page.test.ts checks it is current.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { coreRegistry, settingsPage, type PluginDef } from '@socketserver/core';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export const PAGE = join(REPO, 'docs', 'reference', 'settings.md');
export const COMMAND = 'npm run docs:settings';

/** Every bundled plugin, by its package name, in folder order. */
async function bundledPlugins(): Promise<PluginDef[]> {
  const plugins: PluginDef[] = [];
  for (const dir of readdirSync(join(REPO, 'plugins')).sort()) {
    const { name } = JSON.parse(readFileSync(join(REPO, 'plugins', dir, 'package.json'), 'utf8')) as { name: string };
    plugins.push(((await import(name)) as { default: PluginDef }).default);
  }
  return plugins;
}

/** The page as the declarations give it now. */
export async function currentSettingsPage(): Promise<string> {
  const registry = coreRegistry();
  for (const plugin of await bundledPlugins()) registry.add(plugin.name, plugin.settings ?? {});
  return settingsPage(registry, COMMAND);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  writeFileSync(PAGE, await currentSettingsPage());
  process.stdout.write(`wrote ${PAGE}\n`);
}
