import test from 'ava';
import { CHAOS } from '../helpers/chaos.js';
import { ask } from '../helpers/client.js';
import { eventually, ssInfo, startSs } from '../helpers/ss.js';

// What a worker sends the arbiter over IPC that is not a message of ss's own.

test.serial('a plugin sending junk over IPC from a worker: each message is logged and ignored, the arbiter serves on', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--plugin', CHAOS, '--chaos', 'ipc-junk']);
  const junk = await eventually(() => {
    const lines = ss.logs.filter((l) => /sent a message that is not ours: ignored/.test(l.msg));
    return lines.length === 12 ? lines : undefined;
  }, 'twelve junk messages logged', 5000);
  t.regex(junk[0]!.msg, /\(null\)$/);
  t.regex(junk[8]!.msg, /\("stats" without the fields it needs\)$/);
  t.regex(junk[9]!.msg, /\("stats" without the fields it needs\)$/);
  t.regex(junk[10]!.msg, /\("kept" with a handle it cannot have\)$/);
  t.regex(junk[11]!.msg, /\("beat" with a handle it cannot have\)$/);
  t.is(junk[0]!.level, 40);
  t.is(await ask(ss.port, 'fine'), 'fine');
  t.is((await ssInfo(ss.pid)).workers.length, 1);
});
