import test from 'ava';
import { createSocket } from 'node:dgram';
import { Client } from '../helpers/client.js';
import { eventually, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { UdpClient, udpPort } from '../helpers/udp.js';

const HANDLER = './test/fixtures/runtime/udp-handler.mjs';
const ONE_PROCESS = ['--workers', '0'];

test('echo over udp:// beside TCP in one server: each sender gets its own datagrams back', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo', ...ONE_PROCESS, '--bind', '127.0.0.1:0', '--bind', 'udp://127.0.0.1:0']);
  const line = ss.logs.find((l) => /^listening on udp:\/\/127\.0\.0\.1:\d+$/.test(l.msg));
  t.truthy(line, 'the bound port is logged');
  const port = udpPort(ss);
  t.not(port, 0);
  const clients = await Promise.all([0, 1, 2].map(() => UdpClient.open(t, port)));
  clients.forEach((c, i) => { c.send(`hello from ${i}`); c.send(`again ${i}`); });
  for (const [i, c] of clients.entries()) t.deepEqual(await c.until(2), [`hello from ${i}`, `again ${i}`]);
  const tcp = await Client.open(ss.port);
  tcp.send('over tcp');
  t.is(String(await tcp.read(8)), 'over tcp');
  tcp.destroy();
});

test('line over udp://: several lines in one datagram, a datagram per reply; peer, seq, send and async replies', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', HANDLER, ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0', '--udp-amplification', '0']);
  const c = await UdpClient.open(t, udpPort(ss));
  c.send('one\ntwo\nthree\n');
  t.deepEqual(await c.until(3), ['ONE\n', 'TWO\n', 'THREE\n']);
  c.send('peer\npeer\n');
  // seq counts the messages of one datagram; the peer is the sender's address.
  t.deepEqual((await c.until(5)).slice(3), [`${c.peer} 1\n`, `${c.peer} 2\n`]);
  c.send('push a\n');
  t.deepEqual((await c.until(7)).slice(5), ['pushed a\n', 'replied a\n']);
  c.send('later b\n');
  t.deepEqual((await c.until(8)).slice(7), ['later b\n']);
});

test('bad input is dropped, logged and the server goes on: leftover bytes, a throwing handler, a reply over udp_max_reply', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', HANDLER, ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0', '--udp-amplification', '0', '--udp-max-reply', '1000']);
  const c = await UdpClient.open(t, udpPort(ss));
  // Each is followed by a datagram that is answered: one process serves datagrams in order, so a
  // reply to the bad one would have come first.
  c.send('whole\npartial');
  c.send('after partial\n');
  t.deepEqual(await c.until(1), ['AFTER PARTIAL\n']);
  const bad = await ss.waitForLog((l) => l.datagram === 'bad_input');
  t.regex(bad.msg, /^datagram bad_input: a 13-byte datagram from 127\.0\.0\.1:\d+ did not decode: 7 byte\(s\) left over that are not a whole message; dropped$/);
  c.send('boom\nnever\n');
  c.send('after boom\n');
  t.deepEqual((await c.until(2)).slice(1), ['AFTER BOOM\n']);
  t.regex((await ss.waitForLog((l) => l.datagram === 'handler_error')).msg, /datagram handler exploded on purpose; its replies dropped$/);
  c.send('big 999\n');
  c.send('big 1000\n');
  c.send('after big\n');
  const got = (await c.until(4)).slice(2);
  t.deepEqual(got, ['x'.repeat(999) + '\n', 'AFTER BIG\n']);
  t.regex((await ss.waitForLog((l) => l.datagram === 'too_large')).msg, /a reply of 1001 bytes to 127\.0\.0\.1:\d+ is over udp_max_reply=1000; dropped$/);
});

test('overload: datagrams over 1024 requests still with their handler are dropped; handler_timeout frees their places', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', HANDLER, ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0', '--udp-amplification', '0', '--handler-timeout', '2']);
  const c = await UdpClient.open(t, udpPort(ss));
  c.send('hang\n'.repeat(1100)); // 1100 requests in one datagram, none ever settles
  c.send('refused\n');
  t.regex((await ss.waitForLog((l) => l.datagram === 'overload')).msg, /^datagram overload: 1024 requests are still with their handler; a datagram from 127\.0\.0\.1:\d+ dropped$/);
  const late = await ss.waitForLog((l) => l.datagram === 'handler_timeout', 15_000);
  t.regex(late.msg, /^datagram handler_timeout: request 1 of a datagram from 127\.0\.0\.1:\d+: no reply within handler_timeout=2s; its replies dropped$/);
  const dropped = async () => ((await ssInfo(ss.pid)).workers as { stats: { datagrams: { dropped: Record<string, number> } } }[])[0]!.stats.datagrams.dropped;
  await eventually(async () => (await dropped()).handler_timeout === 1100, 'all 1100 requests timed out', 15_000);
  c.send('served again\n');
  t.deepEqual(await c.until(1), ['SERVED AGAIN\n']);
  t.is((await dropped()).overload, 1);
});

test('a flood of bad datagrams logs one line a second per reason, with the count of those not logged', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0']);
  const c = await UdpClient.open(t, udpPort(ss));
  for (let i = 0; i < 50; i++) c.send('no newline');
  c.send('marker\n');
  await c.until(1);
  await ss.waitForLog((l) => l.datagram === 'bad_input');
  await new Promise((resolve) => setTimeout(resolve, 300)); // stderr is read apart from the replies
  t.is(ss.logs.filter((l) => l.datagram === 'bad_input').length, 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  c.send('no newline');
  const second = await ss.waitForLog((l) => l.datagram === 'bad_input' && l.suppressed === 49);
  t.regex(second.msg, /\(49 more like it not logged\)$/);
  t.is(ss.child.exitCode, null, 'still serving');
});

test('udp_amplification (default 1): replies larger than the datagram are dropped, an echo is not', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', HANDLER, ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0']);
  const c = await UdpClient.open(t, udpPort(ss));
  c.send('big 100\n'); // 8 bytes asking for 101
  c.send('same size\n');
  t.deepEqual(await c.until(1), ['SAME SIZE\n']);
  t.regex((await ss.waitForLog((l) => l.datagram === 'amplification')).msg, /replies to a 8-byte datagram from 127\.0\.0\.1:\d+ would exceed 1x its size \(udp_amplification\); dropped$/);
});

test('udp:// on [::1], and on every interface', async (t) => {
  const probe = createSocket('udp6');
  const hasV6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(0, '::1', () => resolve(true));
  });
  probe.close();
  if (!hasV6) {
    t.pass('no IPv6 loopback here');
    return;
  }
  const ss = await startSs(t, ['--plugin', 'echo', ...ONE_PROCESS, '--bind', 'udp://[::1]:0', '--bind', 'udp://:0']);
  t.regex(ss.addresses[0]!, /^udp:\/\/\[::1\]:\d+$/);
  t.regex(ss.addresses[1]!, /^udp:\/\/:\d+$/);
  const v6 = await UdpClient.open(t, Number(ss.addresses[0]!.split(':').pop()), '::1');
  v6.send('six');
  t.deepEqual(await v6.until(1), ['six']);
  const any = await UdpClient.open(t, Number(ss.addresses[1]!.split(':').pop()));
  any.send('four');
  t.deepEqual(await any.until(1), ['four']);
});

test('udp:// mistakes: no port, the PROXY protocol (one process or workers), a port in use', async (t) => {
  const noPort = await runSs(['serve', '--plugin', 'echo', ...ONE_PROCESS, '--bind', 'udp://127.0.0.1']);
  t.is(noPort.code, 2);
  t.regex(noPort.stderr, /--bind.*udp:\/\/127\.0\.0\.1.*needs a port/);
  const tls = await runSs(['serve', '--plugin', 'echo', '--workers', '1', '--bind', 'udp://127.0.0.1:0', '--proxy-protocol', 'v2']);
  t.is(tls.code, 2, 'with workers too');
  const proxied = await runSs(['serve', '--plugin', 'echo', ...ONE_PROCESS, '--bind', 'udp://127.0.0.1:0', '--proxy-protocol', 'v1']);
  t.is(proxied.code, 2);
  t.regex(proxied.stderr, /udp:\/\/ is served without the PROXY protocol/);
  const taken = createSocket('udp4');
  await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const inUse = await runSs(['serve', '--plugin', 'echo', ...ONE_PROCESS, '--bind', `udp://127.0.0.1:${taken.address().port}`]);
  t.is(inUse.code, 1);
  t.regex(inUse.stderr, /cannot bind udp:\/\/127\.0\.0\.1:\d+: address in use/);
});
