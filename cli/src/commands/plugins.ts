import { App, resolveSettings, type Discovery, type ErrorLocation, type HookName, type ResolvedSettings } from '@socketserver/core';

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
  /** Where in the plugin's code the error came from: FILE:LINE:COLUMN. */
  at?: string;
}

/**
 * The server built as `ss serve` builds it (every plugin applied, in order, to the real app),
 * for the hooks each taps; or why it could not be. No protocol plugin is no failure: nothing
 * is applied, and the plugins are listed as they are.
 */
async function built(discovery: Discovery, settings: ResolvedSettings): Promise<{ app?: App; failure?: Error; note?: string }> {
  try {
    return { app: await App.create(discovery, settings) };
  } catch (err) {
    if (discovery.plugins.every((p) => p.plugin.protocol === undefined)) return { note: 'not applied: a server needs a protocol plugin' };
    return { failure: err as Error };
  }
}

/**
 * `ss plugins`: what each configured name resolved to and what the plugin provides (per server,
 * with several). When the server cannot be built, the plugin named in why says it; a failure
 * that names none (a handler that does not load) is one line on stderr, as `ss serve` says it.
 * Exit as `ss serve` would: 1 (or 2 for a usage mistake) on a failure.
 */
export async function pluginsCommand(discoveries: Discovery[], cli: Record<string, unknown>, json: boolean): Promise<number> {
  const config = discoveries[0]!.config?.file ?? null;
  const servers: { name: string | undefined; reports: PluginReport[]; failure?: Error }[] = [];
  for (const d of discoveries) servers.push({ name: d.server, ...await pluginReports(d, cli) });
  if (json) {
    const shown = servers.length === 1 ? { plugins: servers[0]!.reports } : { servers: Object.fromEntries(servers.map((s): [string, PluginReport[]] => [s.name!, s.reports])) };
    process.stdout.write(`${JSON.stringify({ config, ...shown }, null, 2)}\n`);
  } else {
    for (const [i, s] of servers.entries()) {
      if (servers.length > 1) process.stdout.write(`${i > 0 ? '\n' : ''}server ${s.name}\n`);
      printReports(s.reports);
    }
  }
  let code = 0;
  for (const { reports, failure } of servers) {
    if (failure === undefined) continue;
    // Where in the user's code goes under the line that says why (on stderr, with the code there).
    const where = (failure as { location?: ErrorLocation }).location;
    if (!reports.some((r) => r.error !== undefined)) process.stderr.write(`ss: ${firstLine(failure)}\n${where ? `${where.text}\n` : ''}`);
    else if (where && !json) process.stderr.write(`${where.text}\n`);
    const exit = (failure as { exitCode?: unknown }).exitCode;
    code = Math.max(code, typeof exit === 'number' ? exit : 1);
  }
  return code;
}

function firstLine(err: Error): string {
  return err.message.split('\n')[0]!;
}

async function pluginReports(discovery: Discovery, cli: Record<string, unknown>): Promise<{ reports: PluginReport[]; failure?: Error }> {
  const settings = resolveSettings(discovery, cli);
  const { app, failure, note } = await built(discovery, settings);
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
    };
    const error = note ?? (failure !== undefined && firstLine(failure).includes(`"${plugin.name}"`) ? firstLine(failure) : undefined);
    if (error !== undefined) report.error = error;
    const where = error !== undefined && error !== note ? (failure as { location?: ErrorLocation }).location : undefined;
    if (where) report.at = where.at;
    reports.push(report);
  }
  return { reports, ...(failure !== undefined ? { failure } : {}) };
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
      ...(r.at ? [`  at:       ${r.at}`] : []),
    ].join('\n') + '\n');
  }
}
