import test from 'ava';
import { ask } from '../helpers/client.js';
import { eventually, isAlive, startSs } from '../helpers/ss.js';
import { readyPids } from '../helpers/workers.js';

test('a worker stopped (SIGSTOP) when its arbiter is SIGKILLed dies with it, and the port can be bound again', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1']);
  const [worker] = readyPids(ss);
  t.teardown(() => { if (isAlive(worker!)) process.kill(worker!, 'SIGKILL'); });
  process.kill(worker!, 'SIGSTOP');
  // Not ss.stop(): that waits for stderr to close, which the worker holds while it lives.
  const killed = new Promise((resolve) => ss.child.once('exit', resolve));
  process.kill(ss.pid, 'SIGKILL');
  await killed;
  await eventually(() => (isAlive(worker!) ? undefined : true), `worker ${worker} to die`, 5000);
  const again = await startSs(t, ['--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`]);
  t.is(await ask(again.port, 'again'), 'again');
});
