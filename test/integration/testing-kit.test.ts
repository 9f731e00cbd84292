import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startServer } from '@socketserver/testing';
import type { RespRequest, RespValue } from '@socketserver/plugin-resp';
import { isAlive, REPO, type Exit } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';

// The testing kit's startServer: a real `ss serve` for one test, stopped by its pid when the test ends.

const cwd = REPO;
let torn = 0;

test.serial('startServer: ss serves on a port of its own; the client and another get replies', async (t) => {
  const server = await startServer(t, { plugins: ['line'], workers: 1, cwd });
  torn = server.pid;
  t.true(isAlive(server.pid));
  t.is(server.host, '127.0.0.1');
  t.true(server.port > 0);
  t.is(server.address, `127.0.0.1:${server.port}`);
  t.is(String(await server.client.request('hello')), 'hello');
  const other = await server.connect();
  t.deepEqual((await Promise.all([other.request('a'), other.request('b')])).map(String), ['a', 'b']);
  t.regex(server.stderr(), /"msg":"serving line with 1 worker/);
  t.true(server.logs.some((l) => l.msg.startsWith('listening on')));
});

test.serial('the teardown of that test stopped its ss: the process is gone', (t) => {
  t.true(torn > 0);
  t.false(isAlive(torn));
});

test('stop: TERM, and ss exits 0; a second stop gives the same exit', async (t) => {
  const server = await startServer(t, { plugins: ['echo'], workers: 0, cwd, readyTimeout: '1m' });
  t.is(String(await server.client.request('x')), 'x');
  const exit: Exit = await server.stop();
  t.deepEqual(exit, { code: 0, signal: null });
  t.false(isAlive(server.pid));
  t.is(await server.stop(), exit);
});

test('plugin settings become flags of ss, and the client speaks the protocol with them (resp + kv)', async (t) => {
  const server = await startServer<RespRequest, RespValue>(t, { plugins: ['resp', ['kv', { maxmemory: '1b' }]], settings: { maxmemoryPolicy: 'allkeys-lru' }, workers: 0, cwd });
  t.is(await server.client.request(['PING']), 'PONG');
  const config = (await server.client.request(['CONFIG', 'GET', 'maxmemory', 'maxmemory-policy'])) as RespValue[];
  t.deepEqual(config.map(String), ['maxmemory', '1', 'maxmemory-policy', 'allkeys-lru']);
});

test('an ss that cannot start: startServer rejects with what it said', async (t) => {
  const err = await t.throwsAsync(startServer(t, { plugins: ['line', 'echo'], cwd }));
  t.regex(err.message, /^startServer: ss did not serve: ss exited \(2\)/);
  t.regex(err.message, /each supply a protocol/);
});

test('startServer needs the test\'s context to stop ss at its end', async (t) => {
  await t.throwsAsync(startServer({}, { plugins: ['line'], cwd }), { instanceOf: TypeError, message: /teardown \(ava\) or after \(node:test\)/ });
});

test('node:test: t.after stops ss, and a file using inject and startServer exits by itself', async (t) => {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SS_') || key === 'NODE_TEST_CONTEXT') delete env[key];
  const child = spawn(process.execPath, ['--test', '--test-reporter=tap', join(FIXTURES, 'testing-kit', 'node-test.mjs')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000); // one left running would keep it alive
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  t.is(code, 0, out);
  t.regex(out, /^# pass 3$/m);
  const pid = Number(/# ss pid (\d+)/.exec(out)?.[1]);
  t.true(pid > 0, out);
  t.false(isAlive(pid));
});

test('readyTimeout is ms or a duration as settings take them; anything else is refused before ss starts', async (t) => {
  await t.throwsAsync(startServer(t, { plugins: ['echo'], cwd, readyTimeout: 'soon' }),
    { message: 'startServer: invalid readyTimeout "soon": ms, or a duration such as \'20s\' or \'500ms\'' });
  await t.throwsAsync(startServer(t, { plugins: ['echo'], cwd, readyTimeout: -5 }), { message: /invalid readyTimeout -5/ });
});

