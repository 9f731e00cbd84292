import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { eventually, isAlive, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { PID_HANDLER } from '../helpers/workers.js';

// Access lines buffered for a file reach it within 100 ms: a worker killed outright (the
// watchdog's SIGKILL, which no exit handler sees) loses at most its last 100 ms of lines.

const read = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

test('a worker killed by the watchdog: the access lines of requests answered before it blocked are in the file', async (t) => {
  const dir = tempDir(t, 'access-flush');
  const file = join(dir, 'access.log');
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '1', '--timeout', '2',
    '--access-log', file, '--access-log-lines', 'request', '--handler', PID_HANDLER]);
  const c = await Client.open(ss.port);
  c.send('pid\n');
  const pid = Number((await c.lines(1, 10_000))[0]);
  // Its line reaching the file says when the worker last wrote; the 20 requests follow at once.
  const until = Date.now() + 10_000;
  while (read(file).length === 0 && Date.now() < until) await sleep(5);
  t.is(read(file).length, 1, 'the first request\'s line');
  c.send(Array.from({ length: 20 }, (_, i) => `r${i}\n`).join(''));
  t.is((await c.lines(20, 10_000)).length, 20);
  await sleep(400); // four times the 100 ms they may wait
  c.send('block\n'); // its loop blocks: killed after 2 s, no exit handler runs
  await eventually(() => (isAlive(pid) ? undefined : true), `worker ${pid} killed`, 15_000);
  const lines = read(file);
  t.is(lines.length, 21, lines.join('\n'));
  t.is(lines.filter((l) => l.includes(` 127.0.0.1:${c.localPort} `)).length, 21, lines.join('\n'));
  c.destroy();
});
