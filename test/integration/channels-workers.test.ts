import test from 'ava';
import { join } from 'node:path';
import { Client } from '../helpers/client.js';
import { eventually, startSs, type SsProcess } from '../helpers/ss.js';
import { readyPids } from '../helpers/workers.js';
import { FIXTURES } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// Channels across the workers of a server: a publish in any worker reaches subscribers in every worker.

const CHAT = join(FIXTURES, 'runtime', 'chat-handler.mjs');

async function ask(c: Client, line: string): Promise<string> {
  c.send(`${line}\n`);
  const [reply] = await c.lines(1, 10_000);
  return reply!;
}

/** A client on each of the two workers (connections go round-robin; a few tries at most). */
async function onEachWorker(ss: SsProcess): Promise<[Client, Client, number, number]> {
  const byPid = new Map<number, Client>();
  for (let i = 0; i < 20 && byPid.size < 2; i++) {
    const c = await Client.open(ss.port);
    const pid = Number(await ask(c, 'pid'));
    if (byPid.has(pid)) c.destroy();
    else byPid.set(pid, c);
  }
  const [[p1, c1], [p2, c2]] = [...byPid];
  return [c1!, c2!, p1!, p2!];
}

/**
 * Wait until what `to`'s worker told the arbiter has arrived: `to` joins a probe channel last,
 * and `from` (on the other worker) publishes on it until one reaches `to` (IPC is ordered, so
 * the subscriptions made before the probe's are known by then). `to` reads that one probe.
 */
async function settled(from: Client, to: Client): Promise<void> {
  if (await ask(to, 'join probe') !== 'joined probe') throw new Error('could not join the probe channel');
  for (let i = 0; i < 200; i++) {
    if (await ask(from, 'say probe p') === 'sent to 1') break;
    await sleep(50);
  }
  const [probe] = await to.lines(1, 10_000);
  if (!probe!.startsWith('probe ')) throw new Error(`not the probe: ${probe}`);
}

test('--workers 2: a publish in either worker reaches the subscribers of both, in publish order, and counts them all', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', CHAT]);
  const [a, b] = await onEachWorker(ss);
  t.is(await ask(a, 'join lobby'), 'joined lobby');
  t.is(await ask(b, 'join lobby'), 'joined lobby');
  t.is(await ask(b, 'watch lob*'), 'watching lob*');
  // Publishes made after this count exactly (a's own interest went to the arbiter before its probes).
  await settled(a, b);
  for (let i = 1; i <= 20; i++) a.send(`say lobby m${i}\n`);
  const fromA = await a.lines(40, 10_000);
  t.deepEqual(fromA.filter((l) => l.startsWith('sent')), Array.from({ length: 20 }, () => 'sent to 3'));
  const seenByB = await b.lines(40, 10_000); // each message twice: by name and by the pattern
  const order = seenByB.map((l) => l.split(' ').at(-1));
  t.deepEqual(order, Array.from({ length: 20 }, (_, i) => [`m${i + 1}`, `m${i + 1}`]).flat());
  b.send('say lobby back\n'); // b gets its own message twice (by name and pattern), then the count
  const [one, two, count] = await b.lines(3, 10_000);
  t.true(one!.endsWith(' back') && two!.endsWith(' back'));
  t.is(count, 'sent to 3');
  t.true((await a.lines(1, 10_000))[0]!.endsWith(' back'), 'and a, on the other worker');
  a.destroy();
  b.destroy();
});

test('--workers 2: a worker that is replaced comes back with no interest; its subscribers are no longer counted', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--balance', 'round-robin', '--handler', CHAT]);
  const [a, b, , pidB] = await onEachWorker(ss);
  t.is(await ask(a, 'join news'), 'joined news');
  t.is(await ask(b, 'join news'), 'joined news');
  await settled(a, b);
  a.send('say news one\n');
  t.is((await a.lines(2, 10_000))[1], 'sent to 2', 'its own push, then the count');
  t.true((await b.lines(1, 10_000))[0]!.endsWith(' one'));
  process.kill(pidB, 'SIGKILL');
  await b.waitClose(10_000);
  await eventually(() => (readyPids(ss).length >= 3 ? true : undefined), 'a replacement ready', 20_000);
  a.send('say news two\n'); // b's worker, and its interest, were gone before the replacement was ready
  const [push, count] = await a.lines(2, 10_000);
  t.true(push!.endsWith(' two'));
  t.is(count, 'sent to 1');
  a.destroy();
});

test('--workers 2: kv PUBLISH in one worker reaches a SUBSCRIBE in the other; PUBLISH counts both', async (t) => {
  const ss = await startSs(t, ['--plugin', 'resp', '--plugin', 'kv', '--workers', '2', '--balance', 'round-robin']);
  const byPid = new Map<string, Client>();
  for (let i = 0; i < 20 && byPid.size < 2; i++) {
    const c = await Client.open(ss.port);
    c.send('INFO server\r\n');
    await c.until(() => /process_id:(\d+)/.test(String(c.received)), 'INFO');
    const pid = /process_id:(\d+)/.exec(String(c.received))![1]!;
    c.received = Buffer.alloc(0);
    if (byPid.has(pid)) c.destroy();
    else byPid.set(pid, c);
  }
  const [sub, pub] = [...byPid.values()];
  sub!.send('SUBSCRIBE news\r\n');
  await sub!.until(() => String(sub!.received) === '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n', 'the confirmation');
  sub!.received = Buffer.alloc(0);
  const local = await Client.open(ss.port); // wherever it lands, it subscribes too
  local.send('SUBSCRIBE news\r\n');
  await local.until(() => String(local.received).endsWith(':1\r\n'), 'the confirmation');
  // Wait until the arbiter knows sub's channels: sub joins a probe channel last, pub publishes on it until it counts 1.
  sub!.send('SUBSCRIBE probe\r\n');
  await sub!.until(() => String(sub!.received).endsWith(':2\r\n'), 'the probe confirmation');
  for (let i = 0; i < 200; i++) {
    pub!.received = Buffer.alloc(0);
    pub!.send('PUBLISH probe p\r\n');
    await pub!.until(() => /^:\d+\r\n$/.test(String(pub!.received)), 'a count');
    if (String(pub!.received) === ':1\r\n') break;
    await sleep(50);
  }
  await sub!.until(() => String(sub!.received).includes('probe\r\n$1\r\np\r\n'), 'the probe');
  sub!.received = Buffer.alloc(0);
  pub!.received = Buffer.alloc(0);
  pub!.send('PUBLISH news hello\r\n');
  await pub!.until(() => String(pub!.received) === ':2\r\n', 'a count of 2');
  await sub!.until(() => String(sub!.received).length >= 38, 'the message');
  t.is(String(sub!.received), '*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n');
  for (const c of [sub!, pub!, local]) c.destroy();
});
