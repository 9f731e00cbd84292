import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { REPO, runSs, startSs } from '../helpers/ss.js';

test('npx ss is this project\'s CLI (npm linked the workspace bin)', (t) => {
  const out = spawnSync(join(REPO, 'node_modules/.bin/ss'), ['--version'], { encoding: 'utf8' });
  t.is(out.status, 0);
  t.regex(out.stdout, /^ss \d+\.\d+\.\d+\n$/);
});

test('ss serve in the repository serves its own socketserver.config.ts (line protocol)', async (t) => {
  // SS_BIND beats the config's 127.0.0.1:8060 so the test takes a free port.
  const ss = await startSs(t, [], { env: { SS_BIND: '127.0.0.1:0' } });
  t.is(ss.logs.find((l) => l.msg.startsWith('serving'))!.name, 'line');
  const c = await Client.open(ss.port);
  c.send('from the example config\n');
  t.deepEqual(await c.lines(1), ['from the example config']);
  c.destroy();
});

test('quick start: npx ss serve --plugin echo, then npx ss send --plugin echo hello world', async (t) => {
  // The README's commands as they are; SS_BIND moves both off 127.0.0.1:8060 to a free port.
  const ss = await startSs(t, ['--plugin', 'echo'], { env: { SS_BIND: '127.0.0.1:0' } });
  const r = await runSs(['send', '--plugin', 'echo', 'hello', 'world'], { env: { SS_BIND: `127.0.0.1:${ss.port}` } });
  t.is(r.stderr, '');
  t.is(r.code, 0);
  t.is(r.stdout, 'hello\nworld\n');
});
