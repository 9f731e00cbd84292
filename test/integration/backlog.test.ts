import test from 'ava';
import { Client } from '../helpers/client.js';
import { startSs } from '../helpers/ss.js';

// --backlog: how many clients one server serves at once.

test('backlog caps the clients served at once: one more is closed at once, and served once a slot frees', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--backlog', '2']);
  const a = await Client.open(ss.port);
  const b = await Client.open(ss.port);
  a.send('a\n');
  b.send('b\n');
  t.deepEqual([...(await a.lines(1)), ...(await b.lines(1))], ['a', 'b']);
  const refused = await Client.open(ss.port);
  await refused.waitClose();
  const warn = await ss.waitForLog((l) => l.level === 40 && /refused/.test(l.msg));
  t.regex(warn.msg, /connection\(s\) refused: already serving backlog=2 clients/);
  a.destroy();
  await ss.waitForLog(() => true); // let the server see the close
  let served: Client | undefined;
  for (let i = 0; i < 50 && !served; i++) { // the slot frees once the server has seen the close (≤ 5 s)
    const c = await Client.open(ss.port);
    c.send('c\n');
    try {
      await c.lines(1, 100);
      served = c;
    } catch {
      c.destroy();
    }
  }
  t.truthy(served, 'a new client is served once one left');
  served?.destroy();
  b.destroy();
});
