import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { coreRegistry, discoverServers, logsWritten, version, UsageError, type Discovery, type DiscoverOptions, type ErrorLocation, type Setting } from '@socketserver/core';
import { normalizeArgv } from './argv.js';
import { BOOLEAN_OPTIONS, buildProgram, VALUE_OPTIONS, type Options } from './program.js';
import { serveCommand } from './commands/serve.js';
import { configCommand } from './commands/config.js';
import { pluginsCommand } from './commands/plugins.js';
import { infoCommand } from './commands/info.js';
import { sendCommand } from './commands/send.js';
import { topCommand } from './commands/top.js';

const COMMANDS = new Set(['serve', 'config', 'plugins', 'info', 'top', 'send']);
/** The built-in plugins are this package's dependencies: they resolve from here without any install. */
const CLI_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/** Setting values given on the command line, by long flag. */
function cliValues(opts: Options, settings: readonly Setting[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of settings) if (opts[s.long] !== undefined) out[s.long] = opts[s.long];
  return out;
}

/** Every flag any server knows (servers of one config may load different plugins). */
function allSettings(discoveries: readonly Discovery[]): Setting[] {
  const byFlag = new Map<string, Setting>();
  for (const d of discoveries) for (const s of d.registry.all()) if (!byFlag.has(s.long)) byFlag.set(s.long, s);
  return [...byFlag.values()];
}

async function main(args: string[]): Promise<number> {
  const core = coreRegistry();
  const pre = mri(normalizeArgv(args, core.all(), VALUE_OPTIONS), { boolean: ['help', 'version', ...BOOLEAN_OPTIONS], string: ['plugin', 'config', 'bind', 'name'], alias: { h: 'help', v: 'version' } });
  const command = pre._[0];
  if (command === undefined || !COMMANDS.has(String(command))) {
    if (command !== undefined) throw new UsageError(`unknown command "${command}" (commands: serve, config, plugins, info, top, send; see ss --help)`);
    if (pre.version) process.stdout.write(`ss ${version}\n`);
    else buildProgram(core.all(), null as never).help();
    return pre.help || pre.version ? 0 : 2;
  }

  const boot: DiscoverOptions = { cwd: process.cwd(), env: process.env, cli: { config: pre.config, plugin: pre.plugin, bind: pre.bind, name: pre.name }, builtinDirs: [CLI_DIR] };
  let discoveries: Discovery[] | undefined;
  try {
    discoveries = await discoverServers(boot);
  } catch (err) {
    if (!pre.help) throw err;
    process.stderr.write(`ss: ${(err as Error).message} (showing core settings only)\n`);
  }
  const settings = discoveries ? allSettings(discoveries) : core.all();
  const prog = buildProgram(settings, {
    serve: (opts) => serveCommand(discoveries!, cliValues(opts, settings), boot),
    config: (opts) => configCommand(discoveries!, cliValues(opts, settings), opts.json === true),
    plugins: (opts) => pluginsCommand(discoveries!, cliValues(opts, settings), opts.json === true),
    info: (opts) => infoCommand(discoveries!, cliValues(opts, settings), opts),
    top: (opts) => topCommand(discoveries!, cliValues(opts, settings), opts),
    send: (opts) => sendCommand(discoveries!, cliValues(opts, settings), opts),
  });
  let parsed: { handler: (...a: unknown[]) => Promise<number>; args: unknown[] } | undefined;
  try {
    parsed = prog.parse(['node', 'ss', ...normalizeArgv(args, settings, VALUE_OPTIONS)], {
      lazy: true,
      string: settings.map((s) => s.long),
      boolean: [...BOOLEAN_OPTIONS],
      unknown: (flag: string) => { throw new UnknownOption(flag); },
    } as never) as typeof parsed;
  } catch (err) {
    if (!(err instanceof UnknownOption)) throw err;
    const owner = await bundledOwner(err.flag);
    const hint = owner === undefined ? ` (see ss ${command} --help)` : `: it is the ${owner} plugin's, which is not loaded (add --plugin ${owner})`;
    throw new UsageError(`unknown option ${err.flag} for ss ${command}${hint}`);
  }
  if (!parsed) return 0; // --help or --version was printed
  return parsed.handler(...parsed.args);
}

/** A flag no loaded setting has (thrown out of the argument parser, which cannot wait for bundledOwner). */
class UnknownOption extends Error {
  constructor(readonly flag: string) {
    super(flag);
  }
}

/** The bundled plugin (a dependency of this package) that declares `flag`, if one does: read only when a flag is unknown. */
async function bundledOwner(flag: string): Promise<string | undefined> {
  const manifest = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const name of Object.keys(manifest.dependencies ?? {}).filter((n) => n.startsWith('@socketserver/plugin-'))) {
    try {
      const plugin = (await import(name) as { default?: { name?: unknown; settings?: Record<string, { flags?: unknown }> } }).default;
      const declares = Object.values(plugin?.settings ?? {}).some((s) => Array.isArray(s.flags) && s.flags.includes(flag));
      if (declares && typeof plugin?.name === 'string') return plugin.name;
    } catch {
      // a bundled plugin that does not load says so when it is asked for; here it just has no say
    }
  }
  return undefined;
}

/** Run `ss` and give the exit code: 2 for a usage mistake, 1 for a failure to start. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    return await main(argv.slice(2));
  } catch (err) {
    await logsWritten(); // the log lines before it, then the one line that says why
    const code = (err as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number' && (err as Error).name !== 'Error') {
      // The one line that says why; under it, where in the user's own code (a plugin's, a handler's), if known.
      const where = (err as { location?: ErrorLocation }).location;
      process.stderr.write(`ss: ${(err as Error).message}\n${where ? `${where.text}\n` : ''}`);
      return code;
    }
    // A system call's failure (EACCES, EROFS, ...) is the machine's state, not a bug in ss: its message says it all.
    const sys = err as NodeJS.ErrnoException;
    if (typeof sys?.syscall === 'string' && typeof sys.code === 'string') {
      process.stderr.write(`ss: ${sys.message.split('\n')[0]}\n`);
      return 1;
    }
    process.stderr.write(`ss: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
