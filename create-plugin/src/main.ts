import { existsSync, readdirSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import mri from 'mri';
import { generate, KINDS, type Kind } from './generate.js';
import { NameError, pluginNames } from './names.js';

const COMMAND = 'create-socketserver-plugin';

const USAGE = `Usage: ${COMMAND} NAME [--kind protocol|hook] [--dir DIR] [--force]
       npm create socketserver-plugin NAME [-- --kind hook]

Makes the package socketserver-plugin-NAME (TypeScript, definePlugin, tests on
@socketserver/testing) in ./socketserver-plugin-NAME, or in DIR. Asks nothing.

  -k, --kind   protocol (default): a length-prefixed protocol with a --NAME-max-frame setting
               hook: a plugin counting connections and requests, shown by ss info
  -d, --dir    the folder to write (default ./socketserver-plugin-NAME)
  -f, --force  write into the folder even if it holds files (the generated ones are replaced)
`;

/** A mistake in the arguments: exit 2 with this one line. */
class UsageError extends Error {}

/** A folder that may not be written without --force: it exists and is not an empty folder. */
function occupied(dir: string): boolean {
  if (!existsSync(dir)) return false;
  return !statSync(dir).isDirectory() || readdirSync(dir).length > 0;
}

interface Flags {
  kind?: string | string[];
  dir?: string | string[];
  force?: boolean;
  help?: boolean;
}

/** A flag's value, given once at most. */
function once(flag: string, value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) throw new UsageError(`--${flag} given ${value.length} times: give it once`);
  return value;
}

function main(argv: string[]): number {
  const args = mri<Flags>(argv, {
    string: ['kind', 'dir'],
    boolean: ['force', 'help'],
    // mri knows a flag only by its aliases: each has one, so that any other is refused.
    alias: { h: 'help', k: 'kind', d: 'dir', f: 'force' },
    unknown: (flag) => { throw new UsageError(`unknown option ${flag} (see ${COMMAND} --help)`); },
  });
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args._.length !== 1) {
    throw new UsageError(args._.length === 0 ? 'missing NAME (as in: npm create socketserver-plugin my-proto)' : `one NAME expected, got ${args._.length}: ${args._.join(' ')}`);
  }
  let names;
  try {
    names = pluginNames(String(args._[0]));
  } catch (err) {
    if (err instanceof NameError) throw new UsageError(err.message);
    throw err;
  }
  const kind = (once('kind', args.kind) ?? 'protocol') as Kind;
  if (!KINDS.includes(kind)) throw new UsageError(`invalid --kind "${kind}": protocol or hook`);
  const given = once('dir', args.dir);
  if (given === '') throw new UsageError('--dir needs a folder');
  const dir = resolve(given ?? names.packageName);
  if (!args.force && occupied(dir)) {
    const which = given === undefined ? `NAME ${names.name}: ./${names.packageName}` : `--dir ${given}`;
    throw new UsageError(`${which} exists and is not an empty folder (choose another, or give --force to write into it)`);
  }

  generate(dir, names, kind);
  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(`Made ${names.packageName}, a ${kind} plugin, in ${shown}. Next:

  cd ${shown}
  npm install
  npm test                        # builds, then runs test/ with @socketserver/testing
  npx ss serve ${kind === 'hook' ? '--plugin line ' : ''}--plugin ${names.name}
`);
  return 0;
}

/** Run the command on its arguments; the exit code: 0, 2 for a mistake in them (one line), 1 for a failure. */
export async function run(argv: string[]): Promise<number> {
  try {
    return main(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${COMMAND}: ${err.message}\n`);
      return 2;
    }
    const sys = err as NodeJS.ErrnoException;
    process.stderr.write(`${COMMAND}: ${typeof sys?.syscall === 'string' ? sys.message : (sys as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
