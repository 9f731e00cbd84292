import { resolveSettings, type Discovery } from '@socketserver/core';
import { jsonValue, textValue } from '../values.js';

/** `ss config`: every setting, its resolved value and where it came from. */
export async function configCommand(discoveries: Discovery[], cli: Record<string, unknown>, json: boolean): Promise<number> {
  if (discoveries.length > 1) return configOfServers(discoveries, cli, json);
  return configOfServer(discoveries[0]!, cli, json);
}

/** A config with `servers`: each server's settings under its name. */
async function configOfServers(discoveries: Discovery[], cli: Record<string, unknown>, json: boolean): Promise<number> {
  if (json) {
    const servers: Record<string, unknown> = {};
    for (const d of discoveries) servers[d.server!] = settingsJson(d, cli);
    process.stdout.write(`${JSON.stringify({ config: discoveries[0]!.config?.file ?? null, servers }, null, 2)}\n`);
    return 0;
  }
  for (const [i, d] of discoveries.entries()) {
    process.stdout.write(`${i > 0 ? '\n' : ''}server ${d.server}\n`);
    await configOfServer(d, cli, false);
  }
  return 0;
}

function settingsJson(discovery: Discovery, cli: Record<string, unknown>): Record<string, unknown> {
  const { values, sources } = resolveSettings(discovery, cli);
  const out: Record<string, unknown> = {};
  for (const s of discovery.registry.all()) {
    out[s.name] = { value: jsonValue(values[s.name]), source: sources[s.name]!.kind, from: sources[s.name]!.where, owner: s.owner };
  }
  return out;
}

async function configOfServer(discovery: Discovery, cli: Record<string, unknown>, json: boolean): Promise<number> {
  const { values, sources } = resolveSettings(discovery, cli);
  const settings = discovery.registry.all();
  if (json) {
    process.stdout.write(`${JSON.stringify({ config: discovery.config?.file ?? null, settings: settingsJson(discovery, cli) }, null, 2)}\n`);
    return 0;
  }
  const rows = settings.map((s) => [s.name, textValue(values[s.name]), sources[s.name]!.where, s.owner === 'core' ? '' : s.owner]);
  const header = ['SETTING', 'VALUE', 'SOURCE', 'PLUGIN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`config file: ${discovery.config?.file ?? '(none found)'}\n${[header, ...rows].map(line).join('\n')}\n`);
  return 0;
}
