import { App, resolveSettings, type Discovery, type HookName, type ResolvedSettings } from '@socketserver/core';

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

/**
 * The server built as `ss serve` builds it (every plugin applied, in order, to the real app),
 * for the hooks each taps: or why it could not be — a plugin failing in apply (named), or no
 * protocol plugin (then nothing is applied, and that is no failure).
 */
async function built(discovery: Discovery, settings: ResolvedSettings): Promise<{ app?: App; error?: string; failed: boolean }> {
  try {
    return { app: await App.create(discovery, settings), failed: false };
  } catch (err) {
    const noProtocol = discovery.plugins.every((p) => p.plugin.protocol === undefined);
    return { error: noProtocol ? 'not applied: a server needs a protocol plugin' : (err as Error).message.split('\n')[0]!, failed: !noProtocol };
  }
}

/**
 * `ss plugins`: what each configured name resolved to and what the plugin provides (per server,
 * with several); exit 1 when a plugin fails as the server is built.
 */
export async function pluginsCommand(discoveries: Discovery[], cli: Record<string, unknown>, json: boolean): Promise<number> {
  const config = discoveries[0]!.config?.file ?? null;
  if (discoveries.length === 1) {
    const { reports, failed } = await pluginReports(discoveries[0]!, cli);
    if (json) process.stdout.write(`${JSON.stringify({ config, plugins: reports }, null, 2)}\n`);
    else printReports(reports);
    return failed ? 1 : 0;
  }
  const servers: Record<string, PluginReport[]> = {};
  let failed = false;
  for (const d of discoveries) {
    const r = await pluginReports(d, cli);
    servers[d.server!] = r.reports;
    failed ||= r.failed;
  }
  if (json) process.stdout.write(`${JSON.stringify({ config, servers }, null, 2)}\n`);
  else {
    for (const [i, [name, reports]] of Object.entries(servers).entries()) {
      process.stdout.write(`${i > 0 ? '\n' : ''}server ${name}\n`);
      printReports(reports);
    }
  }
  return failed ? 1 : 0;
}

async function pluginReports(discovery: Discovery, cli: Record<string, unknown>): Promise<{ reports: PluginReport[]; failed: boolean }> {
  const settings = resolveSettings(discovery, cli);
  const { app, error, failed } = await built(discovery, settings);
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
      hooks: app === undefined ? [] : (Object.keys(app.hooks) as HookName[]).filter((h) => app.tapped.get(plugin.name)?.includes(h)),
      ...(error !== undefined && (!failed || error.includes(`"${plugin.name}"`)) ? { error } : {}),
    };
    reports.push(report);
  }
  return { reports, failed };
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
