import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { SsProcess, type Exit } from '@socketserver/testing';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.js';

/** The real `ss` command, as `npx ss` runs it. */
export const SS_BIN = fileURLToPath(new URL('../../../cli/bin/ss.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

// The process wrapper is the testing kit's (startServer): its log lines parsed, stopped by its pid.
export { SsProcess, type LogLine, type Exit } from '@socketserver/testing';

export interface SpawnOptions {
  cwd?: string;
  /** startSs adds `--bind 127.0.0.1:0` unless a bind is given; false serves exactly the arguments (a config's own bind). */
  freePort?: boolean;
  env?: Record<string, string | undefined>;
  /** In a process group of its own (its pid is the group id), as a service manager starts it. */
  detached?: boolean;
}

function spawnSs(args: readonly string[], opts: SpawnOptions): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const key of Object.keys(env)) if (key.startsWith('SS_') && !(opts.env && key in opts.env)) delete env[key];
  return spawn(process.execPath, [SS_BIN, ...args], { cwd: opts.cwd ?? REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
}

/** A test (or anything with ava's `teardown`) that owns the processes it starts. */
export type Owner = Pick<ExecutionContext, 'teardown'>;

/** `(t, args, opts)` or `(args, opts)`: the owner, if any, first. */
type OwnedArgs = [t: Owner, args: readonly string[], opts?: SpawnOptions] | [args: readonly string[], opts?: SpawnOptions];

function owned(a: OwnedArgs): [Owner | undefined, readonly string[], SpawnOptions] {
  return isArgs(a[0]) ? [undefined, a[0], (a[1] as SpawnOptions | undefined) ?? {}] : [a[0], a[1] as readonly string[], a[2] ?? {}];
}

function isArgs(x: Owner | readonly string[]): x is readonly string[] {
  return Array.isArray(x);
}

/**
 * Start `ss ARGS` without waiting for anything (the test decides when it is ready). Given the
 * test `t`, it is stopped by its pid at the test's teardown (TERM, then KILL after 10 s), whatever
 * the test did with it; without one (a `test.before` hook, a script) the caller stops it.
 */
export function launchSs(t: Owner, args: readonly string[], opts?: SpawnOptions): SsProcess;
export function launchSs(args: readonly string[], opts?: SpawnOptions): SsProcess;
export function launchSs(...a: OwnedArgs): SsProcess {
  return launch(...owned(a));
}

function launch(t: Owner | undefined, args: readonly string[], opts: SpawnOptions): SsProcess {
  const ss = new SsProcess(spawnSs(args, opts));
  t?.teardown(() => ss.stop());
  return ss;
}

/**
 * Start `ss serve ARGS` and resolve once it serves; stopped at `t`'s teardown as `launchSs` says.
 * Binds 127.0.0.1:0 unless ARGS has a --bind.
 */
export async function startSs(t: Owner, args: readonly string[], opts?: SpawnOptions): Promise<SsProcess>;
export async function startSs(args: readonly string[], opts?: SpawnOptions): Promise<SsProcess>;
export async function startSs(...a: OwnedArgs): Promise<SsProcess> {
  const [t, args, opts] = owned(a);
  const given = opts.freePort === false || args.some((a) => a === '-b' || a.startsWith('--bind')) || opts.env?.SS_BIND;
  const withBind = given ? args : [...args, '--bind', '127.0.0.1:0'];
  const ss = launch(t, ['serve', ...withBind], opts);
  try {
    await ss.waitForLog((l) => l.msg.startsWith('serving '), 20_000);
  } catch (err) {
    await ss.stop('SIGKILL');
    throw err;
  }
  return ss;
}

export interface Result extends Exit {
  stdout: string;
  stderr: string;
}

/** Run `ss ARGS` to completion (killed after `timeoutMs`). */
export async function runSs(args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Result> {
  const ss = launchSs(args, opts);
  const timer = setTimeout(() => { try { process.kill(ss.pid, 'SIGKILL'); } catch { /* gone */ } }, opts.timeoutMs ?? 20_000);
  const exit = await ss.exited;
  clearTimeout(timer);
  return { ...exit, stdout: ss.stdout, stderr: ss.stderr };
}

/** `ss info --json` for the server whose arbiter has this pid. */
export async function ssInfo(pid: number, opts: SpawnOptions = {}): Promise<Record<string, any>> {
  const r = await runSs(['info', '--json', '--pid', String(pid)], opts);
  if (r.code !== 0) throw new Error(`ss info exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** A process's title as ps shows it (its command line). */
export function processTitle(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
}

/** Poll `check` every 100 ms until it returns a value other than undefined; reject after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Is a process with this pid alive? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
