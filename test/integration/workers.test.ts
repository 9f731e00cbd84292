import test from 'ava';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { supportsReusePort } from '@socketserver/core/process';
import { ask, Client } from '../helpers/client.js';
import { eventually, isAlive, launchSs, processTitle, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';
import { BALANCES, PID_HANDLER, readyPids, replaced, workersRunning } from '../helpers/workers.js';

/** Pids that answer `pid` over `count` fresh connections. */
async function servingPids(port: number, count: number): Promise<Set<number>> {
  const pids = new Set<number>();
  // A loaded machine may take seconds to answer one: what is checked is who answers, not how fast.
  for (let i = 0; i < count; i++) pids.add(Number(await ask(port, 'pid', 20_000)));
  return pids;
}

test('--workers 2: two worker processes titled "ss worker N [line]" serve, under an arbiter titled "ss arbiter [line]"', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', PID_HANDLER]);
  const workers = readyPids(ss);
  t.is(workers.length, 2);
  t.is(processTitle(ss.pid), 'ss arbiter [line]');
  t.deepEqual(workers.map(processTitle).sort(), ['ss worker 1 [line]', 'ss worker 2 [line]']);
  // Both take connections (round-robin, or reuse-port where the kernel spreads them by address).
  const pids = await servingPids(ss.port, 30);
  t.deepEqual([...pids].sort(), [...workers].sort());
  t.false(pids.has(ss.pid), 'the arbiter does not serve');
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.false(workers.some(isAlive), 'workers are gone when the arbiter is');
});

test('--workers 0 and --concurrency thread serve in the arbiter itself', async (t) => {
  for (const args of [['--workers', '0'], ['--concurrency', 'thread', '--workers', '3']]) {
    const ss = await startSs(t, ['--plugin', 'line', '--handler', PID_HANDLER, ...args]);
    t.is(await ask(ss.port, 'pid'), String(ss.pid), args.join(' '));
    t.is(processTitle(ss.pid), 'ss arbiter [line]');
    t.is((await ss.stop('SIGTERM')).code, 0);
  }
});

for (const balance of BALANCES) {
  test(`${balance}: a worker killed with SIGKILL is replaced by a new one, and requests are still served`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', balance, '--handler', PID_HANDLER]);
    const [victim, other] = readyPids(ss);
    const before = listeningInodes(ss.port);
    process.kill(victim!, 'SIGKILL');
    const replaced = await ss.waitForLog((l) => new RegExp(`\\(pid ${victim}\\) exited with signal SIGKILL: replacing it`).test(l.msg));
    t.is(replaced.level, 40);
    const fresh = await eventually(() => readyPids(ss).find((p) => p !== victim && p !== other), 'a new worker');
    t.true(isAlive(fresh));
    if (balance !== 'round-robin') {
      // The slot's socket outlived its worker (the arbiter keeps it open): the new one accepts on it.
      const listening = listeningInodes(ss.port);
      t.deepEqual(listening, before);
      await eventually(() => (socketInodes(fresh).some((i) => listening.has(i)) ? true : undefined), 'the new worker listening', 5000);
    }
    // 24 connections: with reuse-port the kernel spreads them by hash, so each worker gets some.
    const pids = await servingPids(ss.port, 24);
    t.false(pids.has(victim!));
    t.true(pids.has(fresh), 'the new worker takes connections');
    const info = await ssInfo(ss.pid);
    t.deepEqual(info.workers.map((w: { pid: number }) => w.pid).sort(), [other, fresh].sort());
  });
}

for (const balance of BALANCES) {
  test(`${balance}: with one worker, a connection made while it is being replaced waits for the new one`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--balance', balance, '--handler', PID_HANDLER]);
    const [victim] = readyPids(ss);
    process.kill(victim!, 'SIGKILL');
    await ss.waitForLog((l) => new RegExp(`\\(pid ${victim}\\) exited with signal SIGKILL`).test(l.msg));
    const answer = Number(await ask(ss.port, 'pid', 20_000)); // sent before the new worker is ready
    t.not(answer, victim);
    // Its answer may come before the arbiter's log line saying it is ready has been read.
    await ss.waitForLog((l) => l.msg === `worker 1 ready (pid ${answer})`);
    t.deepEqual(readyPids(ss), [victim, answer]);
  });
}

test('a worker whose event loop is blocked is killed after --timeout and replaced', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--timeout', '2', '--handler', PID_HANDLER]);
  const [stuck] = readyPids(ss);
  const c = await Client.open(ss.port);
  c.send('block\n');
  const killed = await ss.waitForLog((l) => /silent for 2s \(event loop blocked\?\): killed, replacing it/.test(l.msg), 10_000);
  t.is(killed.workerPid, stuck);
  await c.waitClose(5000);
  t.is(String(c.received), '', 'the blocked request got no answer: its worker was killed');
  // Sent while the replacement may still be starting (slow on a busy machine): it waits for it.
  const answer = Number(await ask(ss.port, 'pid', 20_000));
  t.not(answer, stuck);
  t.false(isAlive(stuck!));
});

test('a worker that fails to start stops the arbiter after 3 tries: exit 1 naming the plugin, no respawn loop', async (t) => {
  const run = launchSs(t, ['serve', '--plugin', 'line', '--workers', '2', '--bind', '127.0.0.1:0',
    '--plugin', './test/fixtures/runtime/startup-trouble.mjs', '--trouble', 'callback-error-worker-start']);
  t.teardown(() => run.stop('SIGKILL'));
  const exit = await run.exited;
  t.is(exit.code, 1);
  // The one line, then where in the plugin the error was made (the code there under it).
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
  t.regex(lines[0]!, /^ss: server line: worker failed to start 3 times in a row: .*plugin "trouble".*workerStart called back with an error/);
  t.regex(lines[1]!, /^\s+at test\/fixtures\/runtime\/startup-trouble\.mjs:19:\d+$/);
  t.is(run.logs.filter((l) => /failed to start:/.test(l.msg)).length, 3, 'three tries, then stop');
  t.false(run.logs.some((l) => l.msg.startsWith('serving ')));
});

for (const balance of BALANCES) {
  test(`${balance}: --max-requests recycles workers under a request loop with no failed request`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', balance, '--max-requests', '15',
      '--max-requests-jitter', '5', '--handler', PID_HANDLER]);
    const seen = new Set<number>();
    const failures: string[] = [];
    // A worker keeps serving until its replacement is ready (capacity never drops), so pace the loop.
    const until = Date.now() + 20_000;
    for (let i = 0; i < 2000 && seen.size < 4 && Date.now() < until; i++) {
      try {
        seen.add(Number(await ask(ss.port, 'pid')));
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(5);
    }
    t.deepEqual(failures, []);
    t.true(seen.size >= 3, `worker pids seen: ${[...seen].join(' ')}`);
    const recycled = ss.logs.filter((l) => /served \d+ requests \(max_requests\): replacing it/.test(l.msg));
    t.true(recycled.length >= 2);
    for (const l of recycled) t.true((l.requests as number) >= 15 && (l.requests as number) <= 20, `recycled after ${l.requests}`);
    const info = await eventually(async () => {
      const i = await ssInfo(ss.pid);
      return i.monitors[0].workers.alive === 2 ? i : undefined;
    }, 'two workers alive');
    t.is(info.monitors[0].workers.wanted, 2);
  });
}

test('TERM: an in-flight slow request (an async handler sleeping 800 ms) is answered, then exit 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', './test/fixtures/runtime/handler.ts']);
  const workers = readyPids(ss);
  const c = await Client.open(ss.port);
  const sent = Date.now();
  c.send('slow:800:finished\n');
  await sleep(200);
  t.is(String(c.received), '', 'TERM comes while the request runs');
  const exit = await ss.stop('SIGTERM');
  t.is(exit.code, 0);
  // From the send, not the TERM: on a busy machine the 200 ms pause may last longer.
  t.true(Date.now() - sent >= 800, 'waited for the request');
  t.deepEqual(await c.lines(1), ['finished']);
  await c.waitClose();
  t.false(workers.some(isAlive));
});

test('SIGINT to a worker is ignored; SIGINT to the arbiter stops everything quickly, exit 0', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PID_HANDLER]);
  const [worker] = readyPids(ss);
  process.kill(worker!, 'SIGINT');
  await sleep(300);
  t.is(await ask(ss.port, 'pid'), String(worker), 'the worker still serves');
  const exit = await ss.stop('SIGINT');
  t.is(exit.code, 0);
  t.false(isAlive(worker!));
});

test('workers stop when the arbiter is killed outright', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2']);
  const workers = readyPids(ss);
  await ss.stop('SIGKILL');
  await eventually(() => (workers.some(isAlive) ? undefined : true), 'workers to exit', 5000);
  t.pass();
});

test('TTIN and TTOU: one worker more, one fewer, as ss info shows', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1']);
  const count = async (n: number) => eventually(async () => {
    const info = await ssInfo(ss.pid);
    const m = info.monitors[0].workers;
    return m.wanted === n && m.alive === n && info.workers.length === n ? info : undefined;
  }, `${n} workers`);
  process.kill(ss.pid, 'SIGTTIN');
  const two = await count(2);
  t.deepEqual(two.workers.map((w: { id: number }) => w.id).sort(), [1, 2]);
  process.kill(ss.pid, 'SIGTTIN');
  await count(3);
  process.kill(ss.pid, 'SIGTTOU');
  const back = await count(2);
  t.deepEqual(back.workers.map((w: { id: number }) => w.id).sort(), [1, 2], 'the highest slot went');
  process.kill(ss.pid, 'SIGTTOU');
  process.kill(ss.pid, 'SIGTTOU');
  await count(1); // never fewer than one
  t.is(await ask(ss.port, 'still'), 'still');
});

for (const balance of BALANCES) {
  test(`${balance}: TTOU under 8 parallel connect loops: no connection refused or reset`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', '3', '--balance', balance]);
    const failures: string[] = [];
    let answered = 0;
    // TTOU twice while 8 loops connect, each signal once more connections were answered, then on
    // until one worker is left and more were answered (counts, not times: a loaded machine answers
    // fewer a second); 30 s at most in all.
    const until = Date.now() + 30_000;
    let done = false;
    const loop = async () => {
      for (let i = 0; i < 5000 && !done && Date.now() < until; i++) {
        try {
          if ((await ask(ss.port, 'x')) === 'x') answered++;
          else failures.push('wrong reply');
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const reach = async (n: number) => {
      while (answered < n && Date.now() < until) await sleep(20);
      return answered;
    };
    const loops = Array.from({ length: 8 }, loop);
    try {
      for (const after of [60, 180]) {
        await reach(after);
        process.kill(ss.pid, 'SIGTTOU');
      }
      await eventually(async () => ((await ssInfo(ss.pid)).workers.length === 1 ? true : undefined), 'one worker left', 20_000);
      await reach(answered + 100);
    } finally {
      done = true;
      await Promise.all(loops);
    }
    t.deepEqual(failures, []);
    t.true(answered >= 280, `${answered} answered`);
  });
}

test('--balance reuse-port: exit 2 naming the setting on a Node without SO_REUSEPORT; elsewhere every worker listens itself', async (t) => {
  if (!supportsReusePort()) {
    const r = await runSs(['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', '--balance', 'reuse-port']);
    t.is(r.code, 2);
    t.regex(r.stderr, new RegExp(`^ss: invalid --balance "reuse-port": needs Node >= 22\\.12 \\(this is ${process.versions.node.replace(/\./g, '\\.')}\\); use shared\\n$`));
    return;
  }
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'reuse-port', '--handler', PID_HANDLER]);
  // Each worker holds a listening socket of its own on the port (an inode in /proc/net/tcp in
  // state 0A), and there are no others: the arbiter keeps theirs open but is not in the group.
  const listening = listeningInodes(ss.port);
  t.is(listening.size, 2);
  const [one, two] = readyPids(ss).map((pid) => socketInodes(pid).filter((i) => listening.has(i)));
  t.is(one!.length, 1);
  t.is(two!.length, 1);
  t.not(one![0], two![0]);
  // The arbiter accepts none of the connections: stopped, every one is still answered.
  process.kill(ss.pid, 'SIGSTOP');
  try {
    const pids = await servingPids(ss.port, 24);
    t.deepEqual([...pids].sort(), readyPids(ss).sort());
  } finally {
    process.kill(ss.pid, 'SIGCONT');
  }
});

test('--workers 0: HUP, TTIN and TTOU are logged and ignored; the server keeps serving', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '0']);
  for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) {
    process.kill(ss.pid, signal);
    const line = await ss.waitForLog((l) => l.msg.startsWith(`${signal} ignored`));
    t.is(line.level, 40);
  }
  t.is(await ask(ss.port, 'alive'), 'alive');
});

/** Inodes of the sockets listening on 127.0.0.1:PORT. */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  return new Set(rows.filter((r) => r[1] === `0100007F:${hex}` && r[3] === '0A').map((r) => r[9]!));
}

/** Inodes of the sockets a process has open. */
function socketInodes(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try { return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]; } catch { return undefined; }
  }).filter((x): x is string => x !== undefined);
}

// Serial, as before: one server at a time (each starts several processes, and the suite shares two
// cores); ava runs a file's serial tests before its others.
test.serial('HUP and TTIN sent to the whole process group: workers ignore them, the arbiter acts, nothing dies of the signal', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--handler', PID_HANDLER], { detached: true });
  t.teardown(async () => {
    try { process.kill(-ss.pid, 'SIGCONT'); } catch { /* gone */ }
    await ss.stop();
    try { process.kill(-ss.pid, 'SIGKILL'); } catch { /* every one gone */ }
  });
  const before = readyPids(ss);
  const failures: string[] = [];
  let stop = false;
  const loop = (async () => {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 300 && !stop; i++) { // bounded: at most 300 connections, one every 20 ms
      pending.push(ask(ss.port, 'pid').then(() => {}, (err: Error) => { failures.push(err.message); }));
      await sleep(20);
    }
    await Promise.all(pending);
  })();

  process.kill(-ss.pid, 'SIGHUP');
  await replaced(ss, before);
  process.kill(-ss.pid, 'SIGTTIN');
  const three = await workersRunning(ss, 3);
  for (const pid of three) t.not(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0], 'T', `worker ${pid} not stopped`);
  stop = true;
  await loop;
  t.deepEqual(failures, []);
  t.false(ss.logs.some((l) => /exited with signal/.test(l.msg)), 'no worker died of a signal');
  t.true(ss.logs.some((l) => l.msg === 'SIGTTIN: one worker more'));
});
