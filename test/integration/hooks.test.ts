import test from 'ava';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

interface Event { hook: string; [k: string]: unknown }

function events(file: string): Event[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event) : [];
}

test('hooks run in lifecycle order with their arguments (a hook plugin counting connections and requests)', async (t) => {
  const file = join(tempDir(t, 'hooks'), 'events.jsonl');
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', './test/fixtures/runtime/recorder.mjs', '--events-file', file]);

  const a = await Client.open(ss.port);
  a.send('a1\na2\n');
  t.deepEqual(await a.lines(2), ['a1', 'a2']);
  a.end();
  await a.waitClose();
  const b = await Client.open(ss.port);
  b.send('b1\n');
  t.deepEqual(await b.lines(1), ['b1']);
  b.destroy();
  const exit = await ss.stop('SIGTERM');
  t.is(exit.code, 0);

  const all = events(file);
  t.deepEqual(all.slice(0, 2).map((e) => e.hook), ['monitorStart', 'workerStart']);
  t.deepEqual(all[0]!.addresses, ss.addresses);
  t.is(all[0]!.name, 'line');
  // monitorStart runs in the arbiter; workerStart in worker 1, another process.
  const serving = ss.logs.find((l) => l.msg.startsWith('serving '))!;
  t.deepEqual(serving.pids, [all[1]!.pid]);
  t.not(all[1]!.pid, ss.pid);
  t.is(all[1]!.id, 1);
  t.is(all.at(-1)!.hook, 'workerStop');

  const perConnection = (conn: unknown) => all.filter((e) => e.conn === conn).map((e) => {
    const { hook, seq, message, response, requests, error } = e;
    return { hook, seq, message, response, requests, error };
  });
  const [connA, connB] = all.filter((e) => e.hook === 'connectionMade').map((e) => e.conn);
  t.deepEqual(perConnection(connA), [
    { hook: 'connectionMade', seq: undefined, message: undefined, response: undefined, requests: undefined, error: undefined },
    { hook: 'preRequest', seq: 1, message: 'a1', response: undefined, requests: 1, error: undefined },
    { hook: 'postRequest', seq: 1, message: undefined, response: 'a1', requests: undefined, error: undefined },
    { hook: 'preRequest', seq: 2, message: 'a2', response: undefined, requests: 2, error: undefined },
    { hook: 'postRequest', seq: 2, message: undefined, response: 'a2', requests: undefined, error: undefined },
    { hook: 'connectionLost', seq: undefined, message: undefined, response: undefined, requests: 2, error: null },
  ]);
  t.deepEqual(perConnection(connB).map((e) => e.hook), ['connectionMade', 'preRequest', 'postRequest', 'connectionLost']);
  const made = all.filter((e) => e.hook === 'connectionMade');
  t.deepEqual(made.map((e) => e.connections), [1, 2], 'the plugin counted two connections');
  t.is(all.filter((e) => e.hook === 'preRequest').at(-1)!.requests, 3, 'and three requests');
  t.is(made[0]!.peer, `127.0.0.1:${a.localPort}`);
});

test('a tap throwing a value that cannot be printed is logged too, and the worker keeps serving', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', './test/fixtures/runtime/faulty-tap.mjs', '--workers', '1']);
  const c = await Client.open(ss.port);
  c.send('odd-boom\nafter\n');
  t.deepEqual(await c.lines(2), ['odd-boom', 'after']);
  const pre = await ss.waitForLog((l) => l.hook === 'preRequest');
  t.regex(pre.msg, /plugin "faulty" failed in preRequest: a value that cannot be printed/);
  t.false(ss.logs.some((l) => /exited with/.test(l.msg)), 'no worker died');
  c.destroy();
});

test('a throwing tap is logged with its plugin name and the server keeps serving', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', './test/fixtures/runtime/faulty-tap.mjs']);
  const c = await Client.open(ss.port);
  c.send('tap-boom\nafter\n');
  t.deepEqual(await c.lines(2), ['tap-boom', 'after'], 'the request whose tap threw is still answered');
  const made = await ss.waitForLog((l) => l.hook === 'connectionMade');
  t.is(made.plugin, 'faulty');
  t.regex(made.msg, /plugin "faulty" failed in connectionMade: connectionMade tap exploded/);
  const pre = await ss.waitForLog((l) => l.hook === 'preRequest');
  t.regex(pre.msg, /plugin "faulty" failed in preRequest: preRequest tap exploded/);
  const other = await Client.open(ss.port);
  other.send('next\n');
  t.deepEqual(await other.lines(1), ['next']);
  c.destroy();
  other.destroy();
});
