import test from 'ava';
import { certsForFile } from '../helpers/certs.js';
import { Client } from '../helpers/client.js';
import { eventually, startSs, type SsProcess } from '../helpers/ss.js';

// Connections that fail before they are served — a refused PROXY header, a failed or silent TLS
// handshake — are counted under their own close reason (proxy_error, tls_error) in /metrics
// and have an access line, like every other connection.

const certsMade = certsForFile(test);

const OBSERVED = ['--plugin', 'line', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0', '--plugin', 'access-log', '--workers', '1'];

/** The /metrics URL from its log line. */
async function metricsUrl(ss: SsProcess): Promise<string> {
  const line = await ss.waitForLog((l) => typeof l.metrics === 'string', 20_000);
  return line.metrics as string;
}

/** socketserver_connections_closed_total for `reason`, scraped until it is `want`. */
function closedUntil(url: string, reason: string, want: number): Promise<number> {
  const sample = new RegExp(`^socketserver_connections_closed_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'm');
  return eventually(async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const n = Number(sample.exec(await res.text())?.[1]);
    return n === want ? n : undefined;
  }, `${want} closed with reason ${reason}`, 20_000);
}

/** The access lines (the default format, on stdout) of the client on local port `port`. */
function accessLines(ss: SsProcess, port: number): Promise<string[]> {
  return eventually(() => {
    const found = ss.stdout.split('\n').filter((l) => l.startsWith('[') && l.includes(` 127.0.0.1:${port} `));
    return found.length > 0 ? found : undefined;
  }, `the access line of port ${port}`, 15_000);
}

/** A connection that sends `data` (if any) and waits to be closed by the server; its local port. */
async function closedBy(port: number, data: string): Promise<number> {
  const c = await Client.open(port);
  if (data !== '') c.send(data);
  await c.waitClose(10_000);
  return c.localPort!;
}

/** Its reason, the last field of a default-format line; its requests, the sixth. */
function fields(line: string): { requests: string; reason: string } {
  const f = line.split(' ');
  return { requests: f[f.length - 5]!, reason: f[f.length - 1]! };
}

test('a malformed PROXY header and one that never comes: proxy_error in /metrics and in the access log', async (t) => {
  const ss = await startSs(t, [...OBSERVED, '--proxy-protocol', 'v1', '--proxy-header-timeout', '0.5']);
  const url = await metricsUrl(ss);
  const malformed = await closedBy(ss.port, 'PROXY BOGUS\r\nhi\n');
  const silent = await closedBy(ss.port, '');
  t.is(await closedUntil(url, 'proxy_error', 2), 2);
  for (const port of [malformed, silent]) {
    const lines = await accessLines(ss, port);
    t.is(lines.length, 1, `one line for port ${port}`);
    t.deepEqual(fields(lines[0]!), { requests: '0', reason: 'proxy_error' });
  }
});

test('plain text to a TLS server, and a client silent past --tls-handshake-timeout: tls_error in /metrics and in the access log', async (t) => {
  const certs = certsMade();
  const ss = await startSs(t, [...OBSERVED, '--certfile', certs.serverCert, '--keyfile', certs.serverKey, '--tls-handshake-timeout', '0.5']);
  const url = await metricsUrl(ss);
  const plain = await closedBy(ss.port, 'GET / HTTP/1.0\r\n\r\n');
  const silent = await closedBy(ss.port, '');
  t.is(await closedUntil(url, 'tls_error', 2), 2);
  const lines = await accessLines(ss, plain);
  t.deepEqual(fields(lines[0]!), { requests: '0', reason: 'tls_error' });
  t.deepEqual(fields((await accessLines(ss, silent))[0]!), { requests: '0', reason: 'tls_error' });
  await ss.waitForLog((l) => l.msg.includes(`127.0.0.1:${silent} failed: handshake not done after 0.5s`));
});
