import test from 'ava';
import { ask } from '../helpers/client.js';
import { eventually, isAlive, startSs, type SsProcess } from '../helpers/ss.js';

/** Pids of the workers ready so far, from the arbiter's log. */
function readyPids(ss: SsProcess): number[] {
  return ss.logs.filter((l) => /^worker \d+ ready/.test(l.msg)).map((l) => l.workerPid as number);
}

test('a worker stopped (SIGSTOP) when its arbiter is SIGKILLed dies with it, and the port can be bound again', async (t) => {
  const ss = await startSs(['--plugin', 'line', '--workers', '1']);
  const [worker] = readyPids(ss);
  t.teardown(() => { if (isAlive(worker!)) process.kill(worker!, 'SIGKILL'); });
  process.kill(worker!, 'SIGSTOP');
  // Not ss.stop(): that waits for stderr to close, which the worker holds while it lives.
  const killed = new Promise((resolve) => ss.child.once('exit', resolve));
  process.kill(ss.pid, 'SIGKILL');
  await killed;
  await eventually(() => (isAlive(worker!) ? undefined : true), `worker ${worker} to die`, 5000);
  const again = await startSs(['--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`]);
  t.teardown(() => again.stop());
  t.is(await ask(again.port, 'again'), 'again');
});
