import { resolveSettings, type Discovery } from '@socketserver/core';
import { jsonValue, textValue } from '../values.js';

/** `ss config`: every setting, its resolved value and where it came from. */
export async function configCommand(discovery: Discovery, cli: Record<string, unknown>, json: boolean): Promise<number> {
  const { values, sources } = resolveSettings(discovery, cli);
  const settings = discovery.registry.all();
  if (json) {
    const out: Record<string, unknown> = {};
    for (const s of settings) {
      out[s.name] = { value: jsonValue(values[s.name]), source: sources[s.name]!.kind, from: sources[s.name]!.where, owner: s.owner };
    }
    process.stdout.write(`${JSON.stringify({ config: discovery.config?.file ?? null, settings: out }, null, 2)}\n`);
    return 0;
  }
  const rows = settings.map((s) => [s.name, textValue(values[s.name]), sources[s.name]!.where, s.owner === 'core' ? '' : s.owner]);
  const header = ['SETTING', 'VALUE', 'SOURCE', 'PLUGIN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`config file: ${discovery.config?.file ?? '(none found)'}\n${[header, ...rows].map(line).join('\n')}\n`);
  return 0;
}
