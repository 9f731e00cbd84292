import test from 'ava';
import { connect } from 'node:net';
import { Client } from '../helpers/client.js';
import { eventually, isAlive, ssInfo, startSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';
import { PID_HANDLER } from '../helpers/workers.js';

// How a server lets go of its clients: --accept-grace before a TERM closes the listeners
// (health checks refused meanwhile), and a HUP's old workers serving their open connections on.

/** PROXY v2 headers: LOCAL (a balancer's health check) and PROXY for 10.1.2.3:4567. */
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const LOCAL = Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);
const PROXIED = Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0, 12, 10, 1, 2, 3, 127, 0, 0, 1, 0x11, 0xd7, 0x1f, 0x90])]);

/** One line through a fresh connection after `header`: the reply, '' when closed unanswered, or the error code. */
function once(port: number, header: Buffer, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('connect', () => socket.write(Buffer.concat([header, Buffer.from(`${line}\n`)])));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.endsWith('\n')) socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => { got = err.code ?? err.message; });
    socket.on('close', () => { clearTimeout(timer); resolve(got.trimEnd()); });
  });
}

for (const workers of ['0', '2']) {
  test(`workers ${workers}: TERM with --accept-grace serves on for the grace, refusing PROXY LOCAL health checks, then stops accepting; exit 0`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'line', '--workers', workers, '--proxy-protocol', 'v2', '--accept-grace', '2']);
    t.teardown(() => ss.stop('SIGKILL'));
    t.is(await once(ss.port, LOCAL, 'check'), 'check', 'before: a health check is answered');
    t.is(await once(ss.port, PROXIED, 'hi'), 'hi');
    const held = await Client.open(ss.port);
    t.teardown(() => held.destroy());
    held.send(PROXIED).send('first\n');
    t.deepEqual(await held.lines(1), ['first']);

    const started = Date.now();
    process.kill(ss.pid, 'SIGTERM');
    await ss.waitForLog((l) => /stopping in 2s, accepting meanwhile; health checks \(PROXY LOCAL\) are refused/.test(l.msg));
    t.is(await once(ss.port, LOCAL, 'check'), '', 'during the grace: a health check is closed unanswered');
    t.is(await once(ss.port, PROXIED, 'hi'), 'hi', 'during the grace: a new client is served');
    held.send('second\n');
    t.deepEqual(await held.lines(1), ['second'], 'during the grace: an open connection is served');
    const refused = await eventually(async () => (await once(ss.port, PROXIED, 'late')) === 'ECONNREFUSED' ? Date.now() : undefined, 'refused after the grace', 15_000);
    t.true(refused - started >= 1900, `listeners closed ${refused - started} ms after TERM, not before the 2 s grace`);
    t.deepEqual(await ss.exited, { code: 0, signal: null });
  });
}

test('INT during --accept-grace stops at once', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--proxy-protocol', 'v2', '--accept-grace', '60']);
  t.teardown(() => ss.stop('SIGKILL'));
  process.kill(ss.pid, 'SIGTERM');
  await ss.waitForLog((l) => l.msg.includes('stopping in 60s'));
  process.kill(ss.pid, 'SIGINT');
  const exit = await Promise.race([ss.exited, sleep(20_000).then(() => 'still running')]);
  t.deepEqual(exit, { code: 0, signal: null });
});

test('HUP: an old worker serves its open connections on and exits once they close; TERM meanwhile closes them', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PID_HANDLER, '--keep-alive', '0']);
  t.teardown(() => ss.stop('SIGKILL'));
  const a = await Client.open(ss.port);
  const b = await Client.open(ss.port);
  t.teardown(() => { a.destroy(); b.destroy(); });
  a.send('pid\n');
  const [old] = await a.lines(1);
  b.send('pid\n');
  t.deepEqual(await b.lines(1), [old!]);

  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.endsWith('reloaded, every worker runs the new config'));
  // The old worker may still take a connection or two before it reads its stop: new ones soon go to the new worker.
  await eventually(async () => {
    const fresh = await Client.open(ss.port);
    fresh.send('pid\n');
    const [pid] = await fresh.lines(1).finally(() => fresh.destroy());
    return pid !== old ? pid : undefined;
  }, 'a new connection served by the new worker', 10_000);
  a.send('pid\n');
  t.deepEqual(await a.lines(1), [old!], 'an open connection is still served, by the old worker');
  const states = (await ssInfo(ss.pid)).workers.map((w: { pid: number; state: string }) => `${w.pid} ${w.state}`) as string[];
  t.true(states.includes(`${old} draining`), states.join(', '));

  a.end();
  await sleep(300);
  t.true(isAlive(Number(old)), 'the old worker stays while a connection of its is open');
  b.send('pid\n');
  t.deepEqual(await b.lines(1), [old!]);

  // A stop ends the lingering: the old worker's last connection is closed, and all exit 0.
  process.kill(ss.pid, 'SIGTERM');
  await b.waitClose(10_000);
  t.deepEqual(await ss.exited, { code: 0, signal: null });
});

test('HUP: an old worker whose clients close goes at once', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', PID_HANDLER, '--keep-alive', '0']);
  const a = await Client.open(ss.port);
  t.teardown(() => a.destroy());
  a.send('pid\n');
  const [old] = await a.lines(1);
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.endsWith('reloaded, every worker runs the new config'));
  a.send('pid\n');
  t.deepEqual(await a.lines(1), [old!]);
  a.end();
  await eventually(() => (isAlive(Number(old)) ? undefined : true), 'the old worker gone once its client closed', 10_000);
});
