import test, { type ExecutionContext } from 'ava';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { runSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// ss info trusts neither the control folder nor what answers in it: a fake server (this test
// process's pid, in a fresh XDG_RUNTIME_DIR) answers with what each test gives it.

const IS_ROOT = process.getuid?.() === 0;

interface Fake { dirMode?: number; sockMode?: number; dirOwner?: number }

/**
 * A control folder (in a fresh XDG_RUNTIME_DIR) in which something that is not ss answers
 * for this test process's pid (alive, so `ss info` finds it) with `reply`.
 */
async function fakeServer(t: ExecutionContext, reply: string, f: Fake = {}): Promise<Record<string, string>> {
  const runtime = tempDir(t, 'xdg');
  const dir = join(runtime, 'socketserver');
  mkdirSync(dir, { mode: 0o700 });
  const path = join(dir, `${process.pid}.sock`);
  const server = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(reply));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  chmodSync(path, f.sockMode ?? 0o600);
  chmodSync(dir, f.dirMode ?? 0o700);
  if (f.dirOwner !== undefined) chownSync(dir, f.dirOwner, f.dirOwner);
  return { XDG_RUNTIME_DIR: runtime };
}

const info = (env: Record<string, string>, ...args: string[]) => runSs(['info', '--pid', String(process.pid), ...args], { env });

const DOC = JSON.stringify({ arbiter: { pid: process.pid, name: 'fake', state: 'running', version: '0.0.0', uptime: 1 }, monitors: [], workers: [] });

test('the fake server of these tests is answered as a server (control case)', async (t) => {
  const r = await info(await fakeServer(t, DOC));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^arbiter  pid ${process.pid}  fake`));
});

const UNTRUSTED: { title: string; fake: Fake; mentions: string[] }[] = [
  { title: 'a control folder open to other users', fake: { dirMode: 0o755 }, mentions: ['socketserver', 'open to other users', '755'] },
  { title: 'a control socket open to other users', fake: { sockMode: 0o666 }, mentions: [`${process.pid}.sock`, 'open to other users', '666'] },
];

for (const c of UNTRUSTED) {
  test(`ss info refuses ${c.title}: exit 1, one line`, async (t) => {
    const env = await fakeServer(t, DOC, c.fake);
    assertOneLineError(t, await info(env), 1, c.mentions);
    // Without --pid, it does not even list the folder (nor remove stale sockets from it).
    assertOneLineError(t, await runSs(['info'], { env }), 1, c.mentions);
  });
}

// Making a folder another user's takes root; the check itself is unit-tested for any user (control-trust.test.ts).
if (IS_ROOT) {
  test('ss info refuses a control folder that belongs to another user: exit 1, one line', async (t) => {
    const env = await fakeServer(t, DOC, { dirOwner: 65534 });
    assertOneLineError(t, await info(env), 1, ['socketserver', 'belongs to another user', '65534']);
  });
}

test('ss info reads at most 4 MiB of reply: over that, exit 1, one line', async (t) => {
  const big = JSON.stringify({ arbiter: { pid: process.pid }, pad: 'x'.repeat(5 * 2 ** 20) });
  const r = await info(await fakeServer(t, big));
  assertOneLineError(t, r, 1, ['over 4 MiB']);
  t.is(r.stdout, '');
});

const HOSTILE = {
  arbiter: { pid: process.pid, name: '\u001b[31mred\u001b]0;title\u0007', state: 'running\u009b2J', version: '1', uptime: 1 },
  monitors: [{ name: 'two\nlines', addresses: ['a\rb'], workers: { alive: 1, wanted: 1 }, tap: '\u001b[2K' }],
  workers: [{ server: 'two\nlines', id: 1, pid: 2, state: '\u202eevil', memory: 1 }],
  note: '\u007f\u0085\u2028',
};

// Controls a terminal acts on: everything below space but the line ends ss itself writes, DEL, C1, separators, bidi overrides.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('ss info prints what the server sent with its control characters escaped, one line per item', async (t) => {
  const r = await info(await fakeServer(t, JSON.stringify(HOSTILE)));
  t.is(r.code, 0, r.stderr);
  t.false(RAW_CONTROL.test(r.stdout), JSON.stringify(r.stdout));
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 4, 'arbiter, server, worker and note lines; no line added by a newline in a name');
  t.true(lines[0]!.includes('\\u001b[31mred\\u001b]0;title\\u0007'), lines[0]);
  t.true(lines[0]!.includes('running\\u009b2J'), lines[0]);
  t.true(lines[1]!.startsWith('server two\\u000alines  a\\u000db'), lines[1]);
  t.true(lines[2]!.includes('\\u202eevil'), lines[2]);
});

test('ss info --json escapes every control character, and the document reads back the same', async (t) => {
  const r = await info(await fakeServer(t, JSON.stringify(HOSTILE)), '--json');
  t.is(r.code, 0, r.stderr);
  t.false(RAW_CONTROL.test(r.stdout), JSON.stringify(r.stdout));
  t.deepEqual(JSON.parse(r.stdout), HOSTILE);
});

test('ss info given a document of the wrong shape: no stack trace', async (t) => {
  const env = await fakeServer(t, JSON.stringify({ arbiter: { pid: 7 }, monitors: 5, workers: 'x' }));
  const r = await info(env);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^arbiter  pid 7/);
  const env2 = await fakeServer(t, JSON.stringify({ arbiter: { pid: { toString: 1 } } }));
  assertOneLineError(t, await info(env2), 1, ['not an info document']);
  assertOneLineError(t, await info(await fakeServer(t, '[1, 2]')), 1, ['not an info document']);
});
