import test from 'ava';
import { join } from 'node:path';
import { createClient } from '@socketserver/core';
import type { RespRequest, RespValue } from '@socketserver/plugin-resp';
import { eventually, launchSs, runSs, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES } from '../helpers/temp.js';

// ss send printing what the server pushes: among the replies, and with --follow after them.

const PUSH_HANDLER = join(FIXTURES, 'runtime', 'push-handler.mjs');

/** Until `ss`'s stdout holds `n` lines. */
function lines(ss: SsProcess, n: number): Promise<string[]> {
  return eventually(() => {
    const got = ss.stdout.split('\n').slice(0, -1);
    return got.length >= n ? got.slice(0, n) : undefined;
  }, `${n} lines from ss send; stdout so far:\n${ss.stdout}`, 15_000);
}

test('ss send --follow --count 3 prints the reply, then 3 pushes, and exits 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', PUSH_HANDLER]);
  const r = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, '--follow', '--count', '3', 'ticks 10']);
  t.is(r.stderr, '');
  t.is(r.code, 0);
  t.is(r.stdout, 'started\ntick 1\ntick 2\ntick 3\n');
});

test('ss send --follow prints pushes until SIGINT (exit 0), or until the server closes (exit 0, with a note)', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', PUSH_HANDLER]);
  const interrupted = launchSs(t, ['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, '--follow', 'ticks 1000']);
  t.deepEqual(await lines(interrupted, 3), ['started', 'tick 1', 'tick 2']);
  process.kill(interrupted.pid, 'SIGINT');
  t.like(await interrupted.exited, { code: 0, signal: null });
  t.is(interrupted.stderr, '');

  const following = launchSs(t, ['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, '--follow', 'ticks 1000']);
  await lines(following, 2);
  await ss.stop();
  t.like(await following.exited, { code: 0, signal: null });
  t.is(following.stderr, 'ss: connection closed by the server\n');
});

test('ss send --plugin resp --follow --count 2 "SUBSCRIBE news" prints the confirmation, then the messages published', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv']);
  const sub = launchSs(t, ['send', '--plugin', 'resp', '--bind', `127.0.0.1:${ss.port}`, '--follow', '--count', '2', 'SUBSCRIBE news']);
  t.deepEqual(await lines(sub, 1), ['["subscribe","news",1]']);
  const pub = await createClient<RespRequest, RespValue>({ plugin: 'resp', address: `127.0.0.1:${ss.port}` });
  t.is(await pub.request(['PUBLISH', 'news', 'first']), 1);
  t.is(await pub.request(['PUBLISH', 'news', 'second']), 1);
  await pub.close();
  t.like(await sub.exited, { code: 0, signal: null });
  t.is(sub.stderr, '');
  t.is(sub.stdout, '["subscribe","news",1]\n["message","news","first"]\n["message","news","second"]\n');
});

test('without --follow, pushes that come among the replies are printed in the order they came', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv']);
  const r = await runSs(['send', '--plugin', 'resp', '--json', '--bind', `127.0.0.1:${ss.port}`, 'SUBSCRIBE a b', 'PING', 'UNSUBSCRIBE']);
  t.is(r.stderr, '');
  t.is(r.code, 0);
  t.is(r.stdout, '["subscribe","a",1]\n["subscribe","b",2]\n["pong",""]\n["unsubscribe","a",1]\n["unsubscribe","b",0]\n');
});

test('ss send --count needs a number of pushes, 1 or more', async (t) => {
  for (const bad of ['0', 'x', '-1']) {
    const r = await runSs(['send', '--plugin', 'line', '--count', bad, 'x']);
    t.is(r.code, 2, bad);
    t.is(r.stderr, `ss: invalid --count "${bad}": expected a number of pushes, 1 or more\n`);
  }
});
