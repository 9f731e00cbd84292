import test from 'ava';
import { Client } from '../helpers/client.js';
import { startSs, type SsProcess } from '../helpers/ss.js';

/** The connection that sent `bad` is closed with a log line naming it and the reason; a new one is served. */
async function closesAndKeepsServing(t: import('ava').ExecutionContext, ss: SsProcess, bad: string | Buffer, reason: RegExp, good: [string, string]) {
  const bystander = await Client.open(ss.port);
  const c = await Client.open(ss.port);
  c.send(bad);
  await c.waitClose();
  const line = await ss.waitForLog((l) => l.level === 40 && reason.test(l.msg));
  t.regex(line.msg, /^connection \d+ \(127\.0\.0\.1:\d+\): bad input: .*; closed$/);
  t.is(line.peer, `127.0.0.1:${c.localPort}`);
  t.false(bystander.closed, 'another connection is not affected');
  const fresh = await Client.open(ss.port);
  fresh.send(good[0]);
  t.is(String(await fresh.read(good[1].length)), good[1]);
  bystander.send(good[0]);
  t.is(String(await bystander.read(good[1].length)), good[1]);
  fresh.destroy();
  bystander.destroy();
}

const netstringCases: [string, string, RegExp][] = [
  ['leading zero', '05:hello,', /leading zero/],
  ['non-digit in the length', '5x:hello,', /expected a digit or ":", got "x"/],
  ['letters instead of a length', 'abc', /expected a length, got "a"/],
  ['negative length', '-1:', /expected a length, got "-"/],
  ['empty length', ':hello,', /expected a length, got ":"/],
  ['missing comma', '5:helloX', /expected "," after 5 bytes/],
];

for (const [name, bad, reason] of netstringCases) {
  test(`netstring: ${name} closes that connection only`, async (t) => {
    const ss = await startSs(t, ['--plugin', 'netstring']);
    await closesAndKeepsServing(t, ss, bad, reason, ['2:ok,', '2:ok,']);
  });
}

test('netstring: a length prefix over the limit is refused before the ":" arrives', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring', '--max-netstring', '1kb']);
  // 1025 > 1024: refused on the last digit, with no ":" and no payload sent.
  await closesAndKeepsServing(t, ss, '1025', /length over 1024 bytes \(--max-netstring\)/, ['4:1024,', '4:1024,']);
  const c = await Client.open(ss.port);
  c.send(`1024:${'x'.repeat(1024)},`);
  t.is((await c.read(1030)).length, 1030, 'exactly the limit is accepted');
  c.destroy();
});

test('line: an over-long line closes the connection before its newline arrives', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--max-line', '16']);
  await closesAndKeepsServing(t, ss, 'x'.repeat(18), /line longer than 16 bytes \(--max-line\)/, ['ok\n', 'ok\n']);
});

test('line: a line over the limit that arrives whole is refused; the limit itself is accepted, with or without \\r', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--max-line', '16']);
  const ok = await Client.open(ss.port);
  ok.send(`${'a'.repeat(16)}\n${'b'.repeat(16)}\r\n`);
  t.deepEqual(await ok.lines(2), ['a'.repeat(16), 'b'.repeat(16)]);
  ok.destroy();
  await closesAndKeepsServing(t, ss, `${'c'.repeat(17)}\n`, /line longer than 16 bytes/, ['ok\n', 'ok\n']);
});

test('replies owed before malformed input in the same read are still sent', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring']);
  const c = await Client.open(ss.port);
  c.send('2:ok,3:yes,05:bad,');
  await c.waitClose();
  t.is(String(c.received), '2:ok,3:yes,');
});
