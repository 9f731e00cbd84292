import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { clientProtocol, Client, parseSeconds, UsageError, type ClientProtocol } from '@socketserver/core';
import { build, findCli } from './build.js';
import { SsProcess, type Exit, type LogLine } from './ss-process.js';

export interface StartOptions {
  /** Names or paths, resolved from `cwd` as `ss serve --plugin` does; with settings, `['line', { maxLine: '8kb' }]`. */
  readonly plugins: readonly (string | readonly [string, Readonly<Record<string, unknown>>])[];
  /** A module path (from `cwd`): --handler. */
  readonly handler?: string;
  /** Settings by name (`keep_alive`, `maxLine`; camelCase and flags do too), given to `ss` as flags. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** More arguments for `ss serve`, last. */
  readonly args?: readonly string[];
  /** --workers (default: ss's, 1). */
  readonly workers?: number;
  /** Where `ss` runs (its config file, plugins and handler resolve from there); default the working directory. */
  readonly cwd?: string;
  /** Added to this process's environment, whose SS_* variables are left out. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long `ss` may take to serve: ms, or '20s', '500ms'; default 30 s. */
  readonly readyTimeout?: string | number;
}

export interface StartedServer<Req = string | Uint8Array, Rep = Buffer> {
  readonly host: string;
  readonly port: number;
  /** The first address it listens on: '127.0.0.1:PORT' unless `args` bind another. */
  readonly address: string;
  /** A client of the first protocol plugin, connected; closed at stop. */
  readonly client: Client<Req, Rep>;
  /** Another client, closed at stop too. */
  connect(): Promise<Client<Req, Rep>>;
  /** What `ss` wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Its JSON log lines so far (stderr). */
  readonly logs: readonly LogLine[];
  /** The first log line, seen or to come, that `pred` matches. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly pid: number;
  /** Close the clients, signal `ss` (TERM unless given; KILL after 10 s) and wait for it to exit. Again: the same exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** Registers a function to run when the test ends: ava's `t.teardown`, node:test's `t.after`. */
function teardownOf(t: unknown): (fn: () => Promise<unknown>) => void {
  const c = t as { teardown?: unknown; after?: unknown } | null | undefined;
  if (typeof c?.teardown === 'function') return (fn) => (c.teardown as (f: () => Promise<unknown>) => void)(fn);
  if (typeof c?.after === 'function') return (fn) => (c.after as (f: () => Promise<unknown>) => void)(fn);
  throw new TypeError('startServer(t, options): t is the test\'s context, with teardown (ava) or after (node:test), so that the server is stopped when the test ends');
}

/** readyTimeout: a number is ms; a string a duration as settings take them ('20s', '500ms', '1m'). */
function milliseconds(given: string | number | undefined): number {
  if (given === undefined) return 30_000;
  if (typeof given === 'number' && given > 0) return given;
  try {
    if (typeof given === 'string') return parseSeconds(given, { min: 0.001 }) * 1000;
  } catch { /* said below */ }
  throw new UsageError(`startServer: invalid readyTimeout ${JSON.stringify(given)}: ms, or a duration such as '20s' or '500ms'`);
}

/** `flags` (long flag to value, as `build` made them) as arguments; lists repeat their flag. */
function argv(flags: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(flags).flatMap(([flag, value]) => (Array.isArray(value) ? value : [value]).flatMap((v) => {
    if (flag === 'plugin') return ['--plugin', Array.isArray(v) ? String(v[0]) : String(v)]; // its settings are flags of their own
    return [`--${flag}`, String(v)];
  }));
}

/**
 * Start a real `ss serve` (the project's @socketserver/cli, found from `cwd`) on a port of its own
 * choosing on 127.0.0.1, wait until it serves (its "serving" log line), and connect a client.
 * It is stopped, by its pid, when the test `t` ends.
 */
export async function startServer<Req = string | Uint8Array, Rep = Buffer>(t: unknown, options: StartOptions): Promise<StartedServer<Req, Rep>> {
  const teardown = teardownOf(t);
  const cwd = resolve(options.cwd ?? process.cwd());
  const cli = findCli(cwd);
  if (cli === undefined) throw new UsageError(`startServer: @socketserver/cli is not installed (looked from ${cwd}): npm install --save-dev @socketserver/cli`);
  const readyMs = milliseconds(options.readyTimeout);
  // The plugins as ss will load them: their settings become flags, and the client speaks the protocol with them.
  const { discovery, settings, cli: flags } = await build({ plugins: options.plugins, settings: options.settings, cwd });
  const protocol = discovery.plugins.find((p) => p.plugin.protocol)!.plugin;
  const makeClient = (): ClientProtocol<Rep, Req> => clientProtocol(protocol, settings.values as never) as ClientProtocol<Rep, Req>;

  const args = options.args ?? [];
  const given = (...names: string[]) => args.some((a) => names.some((n) => a === n || a.startsWith(`${n}=`)));
  const serve = ['serve', ...argv(flags)];
  if (options.handler !== undefined) serve.push('--handler', options.handler);
  if (options.workers !== undefined) serve.push('--workers', String(options.workers));
  serve.push(...args);
  if (!given('-b', '--bind')) serve.push('--bind', '127.0.0.1:0');
  if (!given('--log-format')) serve.push('--log-format', 'json'); // its lines say when it serves, and where

  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SS_')) delete env[key];
  Object.assign(env, options.env);
  const ss = new SsProcess(spawn(process.execPath, [cli.bin, ...serve], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const clients: Client<Req, Rep>[] = [];
  let stopping: Promise<Exit> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> => (stopping ??= (async () => {
    // A client ends first (a server that does not answer gets 2 s): the server then stops with nothing open.
    await Promise.race([Promise.allSettled(clients.map((c) => c.close())), new Promise((r) => setTimeout(r, 2000).unref())]);
    return ss.stop(signal);
  })());
  teardown(() => stop());

  try {
    await ss.waitForLog((l) => l.msg.startsWith('serving '), readyMs);
  } catch (err) {
    await ss.stop('SIGKILL');
    throw new Error(`startServer: ss did not serve: ${(err as Error).message}`);
  }
  const address = ss.addresses.find((a) => !a.startsWith('unix:')) ?? ss.addresses[0]!;
  const tcp = !address.startsWith('unix:');
  const connect = async (): Promise<Client<Req, Rep>> => {
    const client = await Client.connect<Req, Rep>(makeClient(), { address });
    clients.push(client);
    return client;
  };
  return {
    host: tcp ? address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '') : '',
    port: tcp ? ss.port : 0,
    address,
    client: await connect(),
    connect,
    stdout: () => ss.stdout,
    stderr: () => ss.stderr,
    logs: ss.logs,
    waitForLog: (pred, timeoutMs) => ss.waitForLog(pred, timeoutMs),
    pid: ss.pid,
    stop,
  };
}
