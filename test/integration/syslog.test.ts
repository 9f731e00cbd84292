import test from 'ava';
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { Client } from '../helpers/client.js';
import { eventually, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { UdpClient, udpPort } from '../helpers/udp.js';

// The syslog plugin through the real ss, driven by util-linux logger (what rsyslog-style
// forwarders send); what arrives is read from the default handler's JSON lines on stdout.

const run = promisify(execFile);
const LOGGER = 'logger';

interface Line {
  facility: number; severity: number; version?: number; timestamp?: string; hostname?: string;
  appName?: string; procId?: string; msgId?: string; structuredData: Record<string, Record<string, string>>;
  message: string; format: string; malformed?: string[]; raw?: string;
}

const lines = (ss: SsProcess): Line[] => ss.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);

/** The JSON line whose message is `text`, once it is written. */
const arrived = (ss: SsProcess, text: string): Promise<Line> =>
  eventually(() => lines(ss).find((l) => l.message === text), `a JSON line with message ${JSON.stringify(text)}`, 15_000);

const logger = (port: number, args: string[]) =>
  run(LOGGER, ['-n', '127.0.0.1', '-P', String(port), '-t', 'app', '-p', 'local3.warning', ...args], { timeout: 15_000 });

/** logger's hostname is the machine's, perhaps with its domain. */
const shortHost = hostname().split('.')[0]!;

test('logger --tcp --octet-count --rfc5424: facility, severity, app, host, pid, structured data, message', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog']);
  await logger(ss.port, ['--tcp', '--octet-count', '--rfc5424', '--id=4242', '--msgid', 'M1', '--sd-id', 'ex@32473', '--sd-param', 'k="v \\"q\\""', 'hello 5424']);
  const m = await arrived(ss, 'hello 5424');
  t.is(m.format, '5424');
  t.is(m.facility, 19);
  t.is(m.severity, 4);
  t.is(m.version, 1);
  t.is(m.appName, 'app');
  t.is(m.procId, '4242');
  t.is(m.msgId, 'M1');
  t.true(m.hostname?.startsWith(shortHost), m.hostname);
  t.deepEqual(m.structuredData['ex@32473'], { k: 'v "q"' });
  t.true(Math.abs(Date.parse(m.timestamp!) - Date.now()) < 600_000, m.timestamp);
  t.is(m.malformed, undefined);
});

test('logger --tcp --octet-count --rfc3164, and newline framing (no --octet-count), on one server', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog']);
  await logger(ss.port, ['--tcp', '--octet-count', '--rfc3164', 'hello 3164']);
  const m = await arrived(ss, 'hello 3164');
  t.is(m.format, '3164');
  t.is(m.facility, 19);
  t.is(m.severity, 4);
  t.is(m.appName, 'app');
  t.true(m.hostname?.startsWith(shortHost), m.hostname);
  t.truthy(m.timestamp);
  t.is(m.malformed, undefined);
  await logger(ss.port, ['--tcp', '--rfc5424', 'hello newline']);
  const n = await arrived(ss, 'hello newline');
  t.is(n.format, '5424');
  t.is(n.facility, 19);
  // Several messages on one connection, one logger run per line of stdin.
  await run('/bin/sh', ['-c', `printf 'one\\ntwo\\n' | ${LOGGER} --tcp --octet-count --rfc5424 -n 127.0.0.1 -P ${ss.port} -t app`], { timeout: 15_000 });
  t.is((await arrived(ss, 'one')).appName, 'app');
  t.is((await arrived(ss, 'two')).appName, 'app');
  t.is(ss.stderr.includes('bad input'), false);
});

test('malformed lines are kept, flagged and counted in info; nothing is replied', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog']);
  const c = await Client.open(ss.port);
  c.send('no priority at all\n<13>1 2024-13-99T00:00:00Z h a - - - bad time\n<13>Jan  1 00:00:00 h t: fine\n');
  const plain = await arrived(ss, 'no priority at all');
  t.deepEqual([plain.facility, plain.severity, plain.malformed, plain.raw], [1, 5, ['no PRI'], 'no priority at all']);
  const badTime = await arrived(ss, 'bad time');
  t.deepEqual(badTime.malformed, ['bad TIMESTAMP']);
  t.is(badTime.hostname, 'h');
  t.is((await arrived(ss, 'fine')).malformed, undefined);
  const info = await ssInfo(ss.pid);
  t.deepEqual((info.workers as { syslog?: unknown }[])[0]!.syslog, { messages: 3, malformed: 2, dropped: 0 });
  t.is(c.received.length, 0, 'syslog has no replies');
  c.end();
});

test('a message over --syslog-max-message closes its connection with a log line; others go on', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog', '--syslog-max-message', '100']);
  const other = await Client.open(ss.port);
  const c = await Client.open(ss.port);
  c.send('5000 <13>1 - h a - - - ');
  const line = await ss.waitForLog((l) => l.msg.includes('bad input'), 15_000);
  t.regex(line.msg, /bad input: syslog: message longer than 100 bytes \(--syslog-max-message\); closed$/);
  await c.waitClose(10_000);
  other.send(`<13>${'x'.repeat(90)}\n<13>still served\n`);
  t.is((await arrived(ss, 'still served')).facility, 1);
  t.false(other.closed);
  other.end();
});

test('with --workers 2 every worker parses and writes; their counts add up', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog', '--workers', '2']);
  const texts = Array.from({ length: 6 }, (_, i) => `from worker test ${i}`);
  for (const text of texts) await logger(ss.port, ['--tcp', '--octet-count', '--rfc5424', text]);
  for (const text of texts) t.is((await arrived(ss, text)).facility, 19);
  const info = await ssInfo(ss.pid);
  const counts = (info.workers as { syslog?: { messages: number } }[]).map((w) => w.syslog?.messages ?? 0);
  t.is(counts.length, 2);
  t.is(counts[0]! + counts[1]!, texts.length);
});

test('logger --udp (RFC 5424 and 3164) to a udp:// bind beside a TCP one, with --workers 2: parsed, counted, never answered', async (t) => {
  const ss = await startSs(t, ['--plugin', 'syslog', '--workers', '2', '--bind', 'udp://127.0.0.1:0', '--bind', '127.0.0.1:0']);
  const udp = udpPort(ss);
  await logger(udp, ['--udp', '--rfc5424', '--msgid', 'U1', '--sd-id', 'ex@32473', '--sd-param', 'k="v"', 'over udp 5424']);
  const m = await arrived(ss, 'over udp 5424');
  t.deepEqual([m.format, m.facility, m.severity, m.appName, m.msgId], ['5424', 19, 4, 'app', 'U1']);
  t.deepEqual(m.structuredData['ex@32473'], { k: 'v' });
  t.true(m.hostname?.startsWith(shortHost), m.hostname);
  await logger(udp, ['--udp', '--rfc3164', 'over udp 3164']);
  const o = await arrived(ss, 'over udp 3164');
  t.deepEqual([o.format, o.facility, o.severity, o.appName], ['3164', 19, 4, 'app']);
  // The TCP bind of the same server still frames its stream.
  await logger(ss.port, ['--tcp', '--octet-count', '--rfc5424', 'over tcp beside']);
  t.is((await arrived(ss, 'over tcp beside')).format, '5424');
  // One datagram is one message: a newline inside it is text, not a frame (RFC 5426).
  const client = await UdpClient.open(t, udp);
  client.send('<13>1 - h a - - - two\nlines\n');
  t.is((await arrived(ss, 'two\nlines')).hostname, 'h');
  client.send('not syslog at all');
  t.deepEqual((await arrived(ss, 'not syslog at all')).malformed, ['no PRI']);
  const info = await eventually(async () => {
    const i = await ssInfo(ss.pid);
    const ws = i.workers as { syslog?: { messages: number; malformed: number }; stats?: { datagrams?: { received: number; replied: number } } }[];
    return ws.reduce((n, w) => n + (w.stats?.datagrams?.received ?? 0), 0) === 4 ? ws : undefined;
  }, 'four datagrams counted in ss info', 15_000);
  t.is(info.reduce((n, w) => n + (w.syslog?.messages ?? 0), 0), 5);
  t.is(info.reduce((n, w) => n + (w.syslog?.malformed ?? 0), 0), 1);
  t.is(info.reduce((n, w) => n + (w.stats?.datagrams?.replied ?? 0), 0), 0);
  t.is(client.received.length, 0, 'syslog has no replies');
});
