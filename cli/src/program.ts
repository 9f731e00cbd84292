import sade from 'sade';
import { firstSentence, version, type Setting } from '@socketserver/core';

export type Options = Record<string, unknown>;

/** The commands' own flags that take a value (the settings' flags are known from the registry). */
export const VALUE_OPTIONS: readonly string[] = ['pid', 'interval', 'reply-timeout', 'count'];
/** The commands' options that take no value. */
export const BOOLEAN_OPTIONS: readonly string[] = ['json', 'tls', 'once', 'follow'];
export interface Actions {
  serve(opts: Options): Promise<number>;
  config(opts: Options): Promise<number>;
  plugins(opts: Options): Promise<number>;
  info(opts: Options): Promise<number>;
  top(opts: Options): Promise<number>;
  send(opts: Options): Promise<number>;
}

/** A setting's help line: the first sentence of its description (docs/reference/settings.md has the rest). */
function describe(s: Setting): string {
  const owner = s.owner === 'core' ? '' : `[${s.owner}] `;
  const dflt = s.default === undefined ? '' : `; default ${s.default}`;
  return `${owner}${firstSentence(s.desc)} (env ${s.env}${dflt})`;
}

function addSettings(prog: sade.Sade, settings: readonly Setting[]): void {
  for (const s of settings) {
    const flags = s.short ? `-${s.short}, --${s.long}` : `--${s.long}`;
    // No default passed to sade: a default must not look like a command-line value.
    prog.option(flags, describe(s));
  }
}

/** The `ss` command line for the settings known once the plugins are loaded. */
export function buildProgram(settings: readonly Setting[], actions: Actions): sade.Sade {
  const prog = sade('ss').version(version);
  prog.command('serve')
    .describe('Serve the configured protocol, handler and hook plugins. Settings come from defaults < config file < SS_* environment < command line.')
    .example('serve --plugin echo')
    .example('serve --plugin line --bind :7000 --max-line 8kb')
    .example('serve --config ./socketserver.config.ts');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.serve(opts));

  prog.command('config')
    .describe('Print every setting with its value and where that value came from.')
    .option('--json', 'Print JSON');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.config(opts));

  prog.command('plugins')
    .describe('Show what each configured plugin name resolves to, with its protocol, handler, settings and hooks.')
    .option('--json', 'Print JSON');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.plugins(opts));

  prog.command('info')
    .describe('Print the info of a running server: arbiter, servers, workers, and what info hook plugins add. Finds the server by --pid, else by --pidfile (flag, SS_PIDFILE or config), else the only server this user runs.')
    .option('--json', 'Print JSON')
    .option('--pid', 'The arbiter\'s pid')
    .example('info')
    .example('info --pidfile /run/ss.pid --json');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.info(opts));

  prog.command('top')
    .describe('Watch a running server live: per server and worker the state, uptime, requests per second, active connections, memory and restarts, then each plugin\'s hook calls per second and mean time. q or Ctrl-C quits; exits 1 when the server goes away. Finds the server as info does.')
    .option('--interval', 'Seconds between refreshes (default 1)')
    .option('--once', 'Print one frame, from two info documents --interval apart, as plain text and exit')
    .option('--pid', 'The arbiter\'s pid')
    .example('top')
    .example('top --pid 4242 --once');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.top(opts));

  prog.command('send')
    .describe('Send each MESSAGE (else each line of stdin) to the server at --bind with the protocol plugin\'s client, pipelined, and print the replies in order, and the pushes that come among them.')
    .option('--json', 'Print each reply as one JSON value per line')
    .option('--reply-timeout', 'Milliseconds to wait for each reply; 0 waits forever (default 30000)')
    .option('--follow', 'After the replies, keep printing what the server pushes until Ctrl-C, --count, or the server closes')
    .option('--count', 'Exit 0 once this many pushes were printed (implies --follow)')
    .option('--tls', 'Connect with TLS, checking the server against --ca-certs (else the system\'s CAs)')
    .example('send --plugin echo hi')
    .example('send --plugin line --tls --ca-certs ca.pem --bind localhost:8443 hi')
    .example('send --plugin netstring --bind unix:/tmp/ss.sock --json one two')
    .example('send --plugin resp --bind :6379 --follow SUBSCRIBE news');
  addSettings(prog, settings);
  prog.action((opts: Options) => actions.send(opts));
  return prog;
}
