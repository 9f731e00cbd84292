import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { coreRegistry, discover, version, UsageError, type Discovery, type SettingsRegistry } from '@socketserver/core';
import { normalizeArgv } from './argv.js';
import { buildProgram, type Options } from './program.js';
import { serveCommand } from './commands/serve.js';
import { configCommand } from './commands/config.js';
import { pluginsCommand } from './commands/plugins.js';

const COMMANDS = new Set(['serve', 'config', 'plugins']);
/** The built-in plugins are this package's dependencies: they resolve from here without any install. */
const CLI_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/** Setting values given on the command line, by long flag. */
function cliValues(opts: Options, registry: SettingsRegistry): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of registry.all()) if (opts[s.long] !== undefined) out[s.long] = opts[s.long];
  return out;
}

async function main(args: string[]): Promise<number> {
  const core = coreRegistry();
  const pre = mri(normalizeArgv(args, core.all()), { boolean: ['help', 'version', 'json'], string: ['plugin', 'config'], alias: { h: 'help', v: 'version' } });
  const command = pre._[0];
  if (command === undefined || !COMMANDS.has(String(command))) {
    if (command !== undefined) throw new UsageError(`unknown command "${command}" (commands: serve, config, plugins; see ss --help)`);
    if (pre.version) process.stdout.write(`ss ${version}\n`);
    else buildProgram(core.all(), null as never).help();
    return pre.help || pre.version ? 0 : 2;
  }

  let discovery: Discovery | undefined;
  try {
    discovery = await discover({ cwd: process.cwd(), env: process.env, cli: { config: pre.config, plugin: pre.plugin }, builtinDirs: [CLI_DIR] });
  } catch (err) {
    if (!pre.help) throw err;
    process.stderr.write(`ss: ${(err as Error).message} (showing core settings only)\n`);
  }
  const registry = discovery?.registry ?? core;
  const settings = registry.all();
  const prog = buildProgram(settings, {
    serve: (opts) => serveCommand(discovery!, cliValues(opts, registry)),
    config: (opts) => configCommand(discovery!, cliValues(opts, registry), opts.json === true),
    plugins: (opts) => pluginsCommand(discovery!, cliValues(opts, registry), opts.json === true),
  });
  const parsed = prog.parse(['node', 'ss', ...normalizeArgv(args, settings)], {
    lazy: true,
    string: settings.map((s) => s.long),
    boolean: ['json'],
    unknown: (flag: string) => {
      throw new UsageError(`unknown option ${flag} for ss ${command} (see ss ${command} --help)`);
    },
  } as never) as { handler: (...a: unknown[]) => Promise<number>; args: unknown[] } | undefined;
  if (!parsed) return 0; // --help or --version was printed
  return parsed.handler(...parsed.args);
}

/** Run `ss` and give the exit code: 2 for a usage mistake, 1 for a failure to start. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    return await main(argv.slice(2));
  } catch (err) {
    const code = (err as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number' && (err as Error).name !== 'Error') {
      process.stderr.write(`ss: ${(err as Error).message}\n`);
      return code;
    }
    process.stderr.write(`ss: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
