import { createHooks, createLogger, resolveSettings, type Discovery, type HookName, type LoadedPlugin, type ResolvedSettings } from '@socketserver/core';

interface PluginReport {
  name: string;
  configured: string;
  package: string | null;
  version: string | null;
  file: string;
  protocol: boolean;
  handler: boolean;
  dependencies: readonly string[];
  settings: { name: string; flag: string; default: unknown }[];
  hooks: HookName[];
  error?: string;
}

/** Hooks a plugin taps, found by applying it to a scratch app with a fresh hook table (apply should only tap). */
async function tappedHooks(loaded: LoadedPlugin, discovery: Discovery, settings: ResolvedSettings): Promise<HookName[]> {
  const hooks = createHooks();
  const scratch = { hooks, cfg: settings.values, settings, name: loaded.plugin.name, log: createLogger('silent'), discovery };
  await loaded.plugin.apply?.(scratch as never);
  return (Object.keys(hooks) as HookName[]).filter((h) => hooks[h].taps.length > 0);
}

/** `ss plugins`: what each configured name resolved to and what the plugin provides (per server, with several). */
export async function pluginsCommand(discoveries: Discovery[], cli: Record<string, unknown>, json: boolean): Promise<number> {
  const config = discoveries[0]!.config?.file ?? null;
  if (discoveries.length === 1) {
    const reports = await pluginReports(discoveries[0]!, cli);
    if (json) process.stdout.write(`${JSON.stringify({ config, plugins: reports }, null, 2)}\n`);
    else printReports(reports);
    return 0;
  }
  const servers: Record<string, PluginReport[]> = {};
  for (const d of discoveries) servers[d.server!] = await pluginReports(d, cli);
  if (json) {
    process.stdout.write(`${JSON.stringify({ config, servers }, null, 2)}\n`);
    return 0;
  }
  for (const [i, [name, reports]] of Object.entries(servers).entries()) {
    process.stdout.write(`${i > 0 ? '\n' : ''}server ${name}\n`);
    printReports(reports);
  }
  return 0;
}

async function pluginReports(discovery: Discovery, cli: Record<string, unknown>): Promise<PluginReport[]> {
  const settings = resolveSettings(discovery, cli);
  const reports: PluginReport[] = [];
  for (const loaded of discovery.plugins) {
    const { plugin, resolution } = loaded;
    const report: PluginReport = {
      name: plugin.name,
      configured: loaded.spec,
      package: resolution.packageName ?? null,
      version: resolution.version ?? plugin.version ?? null,
      file: resolution.file,
      protocol: plugin.protocol !== undefined,
      handler: plugin.handler !== undefined,
      dependencies: plugin.dependencies ?? [],
      settings: discovery.registry.ownedBy(plugin.name).map((s) => ({ name: s.name, flag: `--${s.long}`, default: s.default })),
      hooks: [],
    };
    try {
      report.hooks = await tappedHooks(loaded, discovery, settings);
    } catch (err) {
      report.error = `apply failed: ${(err as Error).message}`;
    }
    reports.push(report);
  }
  return reports;
}

function printReports(reports: readonly PluginReport[]): void {
  if (reports.length === 0) {
    process.stdout.write('no plugins configured (use --plugin NAME or plugins: [...] in the config)\n');
    return;
  }
  for (const r of reports) {
    const from = r.package ? `${r.package}${r.version ? `@${r.version}` : ''}` : 'file';
    const provides = [r.protocol && 'protocol', r.handler && 'handler'].filter(Boolean).join(', ') || 'hooks only';
    process.stdout.write([
      `${r.configured} -> ${from} (${r.file})`,
      `  name:     ${r.name}`,
      `  provides: ${provides}`,
      `  settings: ${r.settings.map((s) => `${s.flag} (default ${s.default})`).join(', ') || '-'}`,
      `  hooks:    ${r.hooks.join(', ') || '-'}`,
      ...(r.dependencies.length ? [`  needs:    ${r.dependencies.join(', ')}`] : []),
      ...(r.error ? [`  error:    ${r.error}`] : []),
    ].join('\n') + '\n');
  }
}
