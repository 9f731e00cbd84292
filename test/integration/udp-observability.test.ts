import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, runSs, ssInfo, startSs } from '../helpers/ss.js';
import { metricsUrl, scrapeUntil, value } from '../helpers/metrics.js';
import { tempDir } from '../helpers/temp.js';
import { UdpClient, udpPort } from '../helpers/udp.js';

test('--workers 2: datagrams received, replied and dropped by reason in ss info, ss top, /metrics; the access log has a dgram line per request', async (t) => {
  const dir = tempDir(t, 'udp-obs');
  const log = join(dir, 'access.log');
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0', '--plugin', 'access-log', '--access-log', log,
    '--access-log-lines', 'request', '--access-log-format', '{kind} {peer} {seq}', '--workers', '2', '--bind', 'udp://127.0.0.1:0', '--bind', '127.0.0.1:0']);
  const url = await metricsUrl(ss);
  const c = await UdpClient.open(t, udpPort(ss));
  for (let i = 0; i < 5; i++) c.send(`a${i}\nb${i}\n`); // 5 datagrams, 10 replies
  await c.until(10);
  for (let i = 0; i < 3; i++) c.send('no newline'); // 3 bad_input
  c.send('marker\n');
  await c.until(11);
  const sum = (info: Record<string, any>, f: (d: Record<string, any>) => number) => (info.workers as Record<string, any>[]).reduce((n, w) => n + (w.stats?.datagrams ? f(w.stats.datagrams as Record<string, any>) : 0), 0);
  const info = await eventually(async () => {
    const i = await ssInfo(ss.pid);
    return sum(i, (d) => d.received as number) === 9 ? i : undefined;
  }, 'info to count 9 datagrams');
  t.is(sum(info, (d) => d.replied as number), 11);
  t.is(sum(info, (d) => d.dropped.bad_input as number), 3);
  t.is(sum(info, (d) => d.dropped.too_large as number), 0);
  t.true((info.monitors[0].addresses as string[]).some((a) => /^udp:\/\/127\.0\.0\.1:\d+$/.test(a)));
  const text = await runSs(['info', '--pid', String(ss.pid)]);
  t.regex(text.stdout, /datagrams received \d+ {2}replied \d+ {2}dropped/);
  const samples = await scrapeUntil(url, (s) => value(s, 'socketserver_datagrams_received_total', { server: 'line' }) === 9, '9 datagrams in /metrics');
  t.is(value(samples, 'socketserver_datagrams_sent_total', { server: 'line' }), 11);
  t.is(value(samples, 'socketserver_datagrams_dropped_total', { server: 'line', reason: 'bad_input' }), 3);
  t.is(value(samples, 'socketserver_datagrams_dropped_total', { server: 'line', reason: 'amplification' }), 0);
  const top = await runSs(['top', '--once', '--interval', '0.5', '--pid', String(ss.pid)]);
  t.is(top.code, 0, top.stderr);
  t.regex(top.stdout, /DGRAM IN\/S\s+OUT\/S\s+DROPPED/);
  t.regex(top.stdout, /\n\s+\S+\s+\S+\s+3\s*(\n|$)/, 'the drops summed over workers');
  const lines = await eventually(() => {
    const l = readFileSync(log, 'utf8').trim().split('\n').filter((x) => x.startsWith('dgram '));
    return l.length === 11 ? l : undefined;
  }, 'an access line per datagram request');
  t.true(lines.every((l) => new RegExp(`^dgram ${c.peer.replace(/[.[\]]/g, '\\$&')} [12]$`).test(l)), lines.join('\n'));
});
