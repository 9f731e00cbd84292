import test from 'ava';
import { readFileSync } from 'node:fs';
import { eventually, runSs, startSs } from '../helpers/ss.js';
import { PID_HANDLER, readyPids, workersRunning } from '../helpers/workers.js';
import { supportsReusePort } from '@socketserver/core/process';
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

/** How many UDP sockets this machine has bound on `port` (Linux's /proc/net/udp: local address as HEXIP:HEXPORT). */
function socketsOn(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1).filter((l) => l.trim().split(/\s+/)[1]?.endsWith(hex)).length;
}

/** round-robin is for connections: datagrams are read as with shared. */
const BALANCES = ['shared', ...(supportsReusePort() ? ['reuse-port'] : [])];

for (const balance of BALANCES) {
  test(`--workers 2 --balance ${balance}: both workers read udp://; a worker SIGKILLed is replaced and the replacement reads it too`, async (t) => {
    const ss = await startSs(t, [...ARGS, '--balance', balance]);
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

  test(`--workers 2 --balance ${balance}: after HUP the new workers read udp:// and the old ones no longer do`, async (t) => {
    const ss = await startSs(t, [...ARGS, '--balance', balance]);
    const port = udpPort(ss);
    const old = readyPids(ss);
    process.kill(ss.pid, 'SIGHUP');
    const fresh = await eventually(() => { const n = readyPids(ss).filter((p) => !old.includes(p)); return n.length === 2 ? n : undefined; }, 'two new workers', 30_000);
    await eventually(() => old.every((p) => { try { process.kill(p, 0); return false; } catch { return true; } }) || undefined, 'the old workers to exit', 30_000);
    const seen = await answeredBy(t, port, fresh);
    t.deepEqual([...seen].sort(), [...fresh].sort());
  });
}

test('--balance shared: one socket on the port, read by both workers', async (t) => {
  const ss = await startSs(t, [...ARGS, '--balance', 'shared']);
  t.is(socketsOn(udpPort(ss)), 1);
});

if (supportsReusePort()) {
  test('--balance reuse-port (the default on this Node): a socket per worker in the port\'s group, each sender kept by one worker; TTOU closes a slot\'s socket, TTIN opens one', async (t) => {
    const ss = await startSs(t, ARGS);
    const port = udpPort(ss);
    const pids = readyPids(ss);
    t.is(socketsOn(port), 2);
    // The kernel gives each sender (its address and port) to one socket of the group.
    const clients = await Promise.all(Array.from({ length: 16 }, () => UdpClient.open(t, port)));
    for (let i = 0; i < 5; i++) for (const c of clients) c.send('pid\n');
    const byClient = await Promise.all(clients.map(async (c) => new Set((await c.until(5)).map((r) => Number(r.trim())))));
    t.true(byClient.every((s) => s.size === 1), 'each sender answered by one worker');
    t.deepEqual([...new Set(byClient.flatMap((s) => [...s]))].sort(), [...pids].sort(), 'both workers have senders');
    process.kill(ss.pid, 'SIGTTOU');
    await eventually(() => socketsOn(port) === 1 || undefined, 'one socket left after TTOU', 30_000);
    const one = await workersRunning(ss, 1);
    t.deepEqual([...await answeredBy(t, port, one)], one);
    process.kill(ss.pid, 'SIGTTIN');
    await eventually(() => socketsOn(port) === 2 || undefined, 'two sockets after TTIN', 30_000);
    const two = await workersRunning(ss, 2);
    t.deepEqual([...await answeredBy(t, port, two)].sort(), [...two].sort());
  });
}

test('a second ss on a udp:// port a running ss serves with workers exits 1 (address in use), whatever the balance', async (t) => {
  const ss = await startSs(t, ARGS);
  const port = udpPort(ss);
  for (const balance of BALANCES) {
    const second = await runSs(['serve', '--plugin', 'echo', '--workers', '2', '--balance', balance, '--bind', `udp://127.0.0.1:${port}`]);
    t.is(second.code, 1, balance);
    t.regex(second.stderr, /cannot bind udp:\/\/127\.0\.0\.1:\d+: address in use/);
  }
  t.is(socketsOn(port), supportsReusePort() ? 2 : 1);
});
