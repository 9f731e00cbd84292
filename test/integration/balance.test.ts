import test from 'ava';
import { join } from 'node:path';
import { supportsReusePort } from '@socketserver/core/process';
import { ask } from '../helpers/client.js';
import { eventually, ssInfo, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';
import { PID_HANDLER, readyPids } from '../helpers/workers.js';

/** Pids answering `pid` over `count` connections, `parallel` at a time. */
async function servingPids(target: number | string, count: number, parallel = 4): Promise<number[]> {
  const pids: number[] = [];
  for (let i = 0; i < count; i += parallel) {
    pids.push(...(await Promise.all(Array.from({ length: parallel }, () => ask(target, 'pid').then(Number)))));
  }
  return pids;
}

/** Stop (SIGSTOP) these processes while `body` runs. */
async function whileStopped<T>(pids: readonly number[], body: () => Promise<T>): Promise<T> {
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    return await body();
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
}

test('auto: workers accept themselves, over TCP and a unix socket: with the arbiter stopped, each worker still answers', async (t) => {
  const sock = join(tempDir(t, 'balance'), 's.sock');
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', PID_HANDLER, '--bind', '127.0.0.1:0', '--bind', `unix:${sock}`]);
  const workers = readyPids(ss).sort();
  // Reuse-port (TCP where Node has it): the kernel spreads connections over the workers' own sockets.
  if (supportsReusePort()) {
    const pids = await whileStopped([ss.pid], () => servingPids(ss.port, 40));
    t.deepEqual([...new Set(pids)].sort(), workers, 'each worker accepts on a TCP socket of its own');
  }
  // Shared: every worker accepts on the one socket, so with the arbiter and one worker stopped, the other answers.
  for (const target of supportsReusePort() ? [sock] : [ss.port, sock]) {
    for (const worker of workers) {
      const pids = await whileStopped([ss.pid, ...workers.filter((w) => w !== worker)], () => servingPids(target, 4))
        .catch((err: Error) => { throw new Error(`on ${target}, worker ${worker} alone: ${err.message}`); });
      t.deepEqual([...new Set(pids)], [worker], `worker ${worker} accepts on ${target} itself`);
    }
  }
  const received = (await ssInfo(ss.pid)).workers.map((w: { connections: { received: number } }) => w.connections.received);
  t.true(received.every((n: number) => n > 0), `connections received per worker: ${received.join(' ')}`);
});

test('shared: TTIN, TTOU and HUP under 4 connect loops: no connection refused, reset or unanswered', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'shared', '--handler', PID_HANDLER]);
  const failures: string[] = [];
  const seen = new Set<number>();
  let stop = false;
  const loop = async () => {
    for (let i = 0; i < 20_000 && !stop; i++) {
      try {
        seen.add(Number(await ask(ss.port, 'pid')));
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(2); // leave the workers CPU to start in
    }
  };
  const running = async () => {
    const info = await ssInfo(ss.pid);
    return info.workers.filter((w: { state: string }) => w.state === 'running').map((w: { pid: number }) => w.pid) as number[];
  };
  const loops = Array.from({ length: 4 }, loop);
  try {
    const before = await running();
    // Each step once the previous one is done: the workers then are exactly these.
    const steps = [
      ['SIGTTIN', (p: number[]) => p.length === 3], ['SIGTTOU', (p: number[]) => p.length === 2],
      ['SIGHUP', (p: number[]) => p.length === 2 && !p.some((x) => before.includes(x))],
      ['SIGTTOU', (p: number[]) => p.length === 1], ['SIGTTIN', (p: number[]) => p.length === 2],
    ] as const;
    for (const [signal, done] of steps) {
      await sleep(300);
      process.kill(ss.pid, signal);
      await eventually(async () => {
        const info = await ssInfo(ss.pid);
        const pids = info.workers.map((w: { pid: number; state: string }) => w.pid) as number[];
        return done(pids) && info.monitors[0].workers.alive === pids.length ? true : undefined;
      }, `the workers after ${signal}`, 15_000);
    }
    await sleep(300);
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  t.deepEqual(failures, []);
  t.true(seen.size >= 4, `${seen.size} worker pids answered (the HUP replaced them)`);
});

// Serial, as before: one server at a time (each starts several processes, and the suite shares two
// cores); ava runs a file's serial tests before its others.
test.serial('round-robin: a worker stopped (SIGSTOP) gets no new connection once its heartbeat is late; the other serves them', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', PID_HANDLER]);
  const [stopped, other] = readyPids(ss);
  process.kill(stopped!, 'SIGSTOP');
  t.teardown(() => { try { process.kill(stopped!, 'SIGCONT'); } catch { /* gone */ } });
  await sleep(3000); // heartbeats every second: late after 2.25 s
  for (let i = 0; i < 10; i++) t.is(Number(await ask(ss.port, 'pid', 8000)), other, `connection ${i}`);
  process.kill(stopped!, 'SIGCONT');
  const pids = await eventually(async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(Number(await ask(ss.port, 'pid')));
    return seen.size === 2 ? seen : undefined;
  }, 'both workers serving again');
  t.deepEqual([...pids].sort(), [stopped, other].sort());
});

test.serial('round-robin: connections sent to a worker that dies before taking them go to another worker', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', PID_HANDLER]);
  const [victim, other] = readyPids(ss);
  process.kill(victim!, 'SIGSTOP');
  // Sent at once, before its heartbeat is late: about half go to the stopped worker.
  const answers = Array.from({ length: 6 }, () => ask(ss.port, 'pid', 10_000));
  await sleep(500);
  process.kill(victim!, 'SIGKILL');
  const pids = (await Promise.all(answers)).map(Number);
  t.false(pids.includes(victim!));
  t.true(pids.includes(other!));
  t.is(pids.length, 6);
});
