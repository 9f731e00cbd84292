import test from 'ava';
import { eventually, startSs } from '../helpers/ss.js';
import { PID_HANDLER, readyPids } from '../helpers/workers.js';
import { UdpClient, udpPort } from '../helpers/udp.js';
import type { ExecutionContext } from 'ava';

/** Pids that answer "pid" from fresh client sockets, until every one of `want` has (at most 100 rounds of 4). */
async function answeredBy(t: ExecutionContext, port: number, want: readonly number[]): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let round = 0; round < 100 && !want.every((p) => seen.has(p)); round++) {
    const clients = await Promise.all([0, 1, 2, 3].map(() => UdpClient.open(t, port)));
    for (const c of clients) c.send('pid\n');
    for (const c of clients) for (const r of await c.until(1)) seen.add(Number(r.trim()));
    for (const c of clients) c.socket.close();
  }
  return seen;
}

const ARGS = ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', '2', '--bind', 'udp://127.0.0.1:0', '--bind', '127.0.0.1:0', '--udp-amplification', '4'];

test('--workers 2: both workers read the udp:// socket; a worker SIGKILLed is replaced and the replacement reads it too', async (t) => {
  const ss = await startSs(t, ARGS);
  const port = udpPort(ss);
  const pids = readyPids(ss);
  t.is(pids.length, 2);
  t.deepEqual([...await answeredBy(t, port, pids)].sort(), [...pids].sort());
  process.kill(pids[0]!, 'SIGKILL');
  const replacement = await eventually(() => readyPids(ss).find((p) => !pids.includes(p)), 'a replacement worker', 30_000);
  const seen = await answeredBy(t, port, [replacement, pids[1]!]);
  t.true(seen.has(replacement), 'the replacement answers');
  t.true(seen.has(pids[1]!), 'the other worker still answers');
  t.false(seen.has(pids[0]!));
});

test('--workers 2: after HUP the new workers read the udp:// socket and the old ones no longer do', async (t) => {
  const ss = await startSs(t, ARGS);
  const port = udpPort(ss);
  const old = readyPids(ss);
  process.kill(ss.pid, 'SIGHUP');
  const fresh = await eventually(() => { const n = readyPids(ss).filter((p) => !old.includes(p)); return n.length === 2 ? n : undefined; }, 'two new workers', 30_000);
  await eventually(() => old.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }) || undefined, 'the old workers to exit', 30_000);
  const seen = await answeredBy(t, port, fresh);
  t.deepEqual([...seen].sort(), [...fresh].sort());
});
