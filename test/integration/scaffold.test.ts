import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { REPO, SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The scaffold and the testing kit as a user gets them: the workspace packed into tarballs, a
 * plugin made by the packed create-socketserver-plugin in a folder outside the repository, the
 * tarballs installed there, its own `npm test` (tsc, then node --test on the kit) passing, and
 * `ss serve --plugin NAME` from its folder answering. Needs the npm registry (or its cache) for
 * TypeScript and Node's types only.
 */

const MINUTES = 60_000;

interface Run {
  code: number | null;
  out: string;
}

/**
 * The environment of a command run as a user would: this Node first on PATH (npm and the
 * plugin's scripts run it), none of this run's npm_* variables (an outer `npm test` sets them)
 * nor SS_* settings.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(npm_|SS_)/i.test(key)) env[key] = value;
  env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`;
  return env;
}

/**
 * Run `command args` in `cwd` to its end, stdin closed (nothing may ask). It runs in a process
 * group of its own, killed by its pid after `timeoutMs` (or at `t`'s teardown) with whatever it started.
 */
function run(t: ExecutionContext | undefined, cwd: string, command: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
  const timer = setTimeout(kill, timeoutMs);
  t?.teardown(kill);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, out });
  }));
}

/** Run it and expect exit 0, its output in the failure. */
async function must(t: ExecutionContext | undefined, cwd: string, command: string, args: readonly string[], timeoutMs = 2 * MINUTES): Promise<string> {
  const r = await run(t, cwd, command, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${r.code}:\n${r.out}`);
  return r.out;
}

/** The workspace's packages, packed once for both tests (after `tsc -b`, which `npm test` runs first). */
let packages: { dir: string; tarballs: string[]; scaffold: string };

test.before(async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'ss-scaffold-packages-')));
  packages = { dir, tarballs: [], scaffold: '' };
  await must(undefined, REPO, 'npm', ['pack', '--workspaces', '--pack-destination', dir, '--silent']);
  const all = readdirSync(dir).filter((f) => f.endsWith('.tgz')).map((f) => join(dir, f));
  const scaffold = all.find((f) => /\/create-socketserver-plugin-[^/]+\.tgz$/.test(f));
  if (scaffold === undefined) throw new Error(`no create-socketserver-plugin tarball among ${all.join(', ')}`);
  packages = { dir, tarballs: all.filter((f) => f !== scaffold), scaffold };
});

test.after.always(() => {
  if (packages) rmSync(packages.dir, { recursive: true, force: true });
});

/**
 * Generate socketserver-plugin-NAME in a fresh folder with the packed scaffold, install the packed
 * packages there (not saved: package.json keeps asking for ^version, as published), and run
 * `npm test`. Returns the plugin's folder.
 */
async function generateAndTest(t: ExecutionContext, name: string, kind: string, tests: number): Promise<string> {
  const { tarballs, scaffold } = packages;
  const work = tempDir(t, `scaffold-${kind}`);
  const made = await must(t, work, 'npm', ['exec', '--yes', '--prefer-offline', '--package', scaffold, '--', 'create-socketserver-plugin', name, '--kind', kind]);
  t.true(made.includes(`npx ss serve`), made);
  const dir = join(work, `socketserver-plugin-${name}`);
  const before = readFileSync(join(dir, 'package.json'), 'utf8');

  // Every tarball on one command: the packages ask for each other at exact versions no registry has.
  await must(t, dir, 'npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], 3 * MINUTES);
  t.is(readFileSync(join(dir, 'package.json'), 'utf8'), before, 'package.json as generated');

  const out = await must(t, dir, 'npm', ['test'], 3 * MINUTES);
  // node --test's summary: TAP ("# pass 4") on Node 20 and 22, its spec reporter ("ℹ pass 4") later.
  t.regex(out, new RegExp(`^(#|ℹ) pass ${tests}$`, 'm'), out);
  t.regex(out, /^(#|ℹ) fail 0$/m, out);
  return dir;
}

/** `ss ARGS` as `npx ss` runs it in `dir` (spawned directly: npx would not pass TERM on). */
function ssArgs(dir: string, args: readonly string[]): [string, string[]] {
  return [process.execPath, [join(dir, 'node_modules', '@socketserver', 'cli', 'bin', 'ss.js'), ...args]];
}

/** `ss serve ARGS --bind 127.0.0.1:0` in `dir`, once it serves; stopped by its pid at teardown. */
async function serve(t: ExecutionContext, dir: string, args: readonly string[]): Promise<SsProcess> {
  const [node, argv] = ssArgs(dir, ['serve', ...args, '--bind', '127.0.0.1:0']);
  const ss = new SsProcess(spawn(node, argv, { cwd: dir, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => ss.stop());
  await ss.waitForLog((l) => l.msg.startsWith('serving '), 30_000);
  return ss;
}

test.serial('a protocol plugin from the packed scaffold, outside the repository: npm test passes, ss serve --plugin NAME answers', async (t) => {
  t.timeout(6 * MINUTES);
  const dir = await generateAndTest(t, 'len32', 'protocol', 4);
  const ss = await serve(t, dir, ['--plugin', 'len32']);
  t.like(ss.logs.find((l) => l.msg.startsWith('serving ')), { name: 'len32' });
  const [node, argv] = ssArgs(dir, ['send', '--plugin', 'len32', '--bind', `127.0.0.1:${ss.port}`, 'hello', 'world']);
  t.is(await must(t, dir, node, argv, MINUTES), 'hello\nworld\n');
  t.deepEqual(await ss.stop(), { code: 0, signal: null });
});

test.serial('a hook plugin from the packed scaffold, outside the repository: npm test passes, ss info shows its counts', async (t) => {
  t.timeout(6 * MINUTES);
  const dir = await generateAndTest(t, 'conn-count', 'hook', 3);
  const ss = await serve(t, dir, ['--plugin', 'line', '--plugin', 'conn-count']);
  const [node, send] = ssArgs(dir, ['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, 'one', 'two']);
  t.is(await must(t, dir, node, send, MINUTES), 'one\ntwo\n');
  const [, info] = ssArgs(dir, ['info', '--json', '--pid', String(ss.pid)]);
  const doc = JSON.parse(await must(t, dir, node, info, MINUTES)) as { workers: Record<string, unknown>[] };
  t.deepEqual(doc.workers.map((w) => w['conn-count']), [{ connections: 1, requests: 2 }]);
  t.deepEqual(await ss.stop(), { code: 0, signal: null });
});
