import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { dirname, join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { certsForFile, read, type Certs } from '../helpers/certs.js';
import { createClient } from '@socketserver/core';
import { REPO, runSs, startSs, eventually, ssInfo, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { askTls as ask, closedOrFailed, openTls as open } from '../helpers/tls.js';
import { sleep } from '../helpers/wait.js';
import { BALANCES } from '../helpers/workers.js';

const HANDLER = join(REPO, 'test/fixtures/runtime/tls-handler.mjs');
const RECORDER = join(REPO, 'test/fixtures/runtime/recorder.mjs');

interface Setup {
  readonly certs: Certs;
  /** The server's certificate files as ss reads them (a reload test overwrites them). */
  readonly cert: string;
  readonly key: string;
}

const certsMade = certsForFile(test);

function setup(t: ExecutionContext): Setup {
  const dir = tempDir(t, 'tls');
  const certs = certsMade();
  const cert = join(dir, 'live.pem');
  const key = join(dir, 'live.key');
  copyFileSync(certs.serverCert, cert);
  copyFileSync(certs.serverKey, key);
  return { certs, cert, key };
}

/** `ss serve` of 'line' over TLS with the live certificate and these arguments; stopped at teardown. */
function startTls(t: ExecutionContext, s: Setup, args: readonly string[]): Promise<SsProcess> {
  return startSs(t, ['--plugin', 'line', '--handler', HANDLER, '--certfile', s.cert, '--keyfile', s.key, ...args]);
}

/** Connect, ask, close: the reply and what the handshake showed. */
async function once(port: number, opts: ConnectionOptions, line = 'hello'): Promise<{ reply: string; fingerprint: string; reused: boolean }> {
  const socket = await open(port, opts);
  try {
    const reply = await ask(socket, line);
    return { reply, fingerprint: socket.getPeerCertificate().fingerprint256, reused: socket.isSessionReused() };
  } finally {
    socket.destroy();
  }
}

const fingerprintOf = (file: string): string =>
  new (process.getBuiltinModule('node:crypto').X509Certificate)(read(file)).fingerprint256;

test('workers 0: a round trip with tls.connect, and connection.tls as the handler sees it', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '0', '--alpn', 'x-test', '--alpn', 'x-other']);
  const socket = await open(ss.port, { ca: read(s.certs.ca), ALPNProtocols: ['x-test'] });
  t.teardown(() => socket.destroy());
  t.is(await ask(socket, 'hello'), 'hello');
  const seen = JSON.parse(await ask(socket, 'tls')) as Record<string, unknown>;
  t.is(seen.protocol, socket.getProtocol());
  t.is(seen.cipher, socket.getCipher().name);
  t.is(seen.alpn, 'x-test');
  t.is(seen.authorized, false);
  t.false('subject' in seen, 'no client certificate, no subject');
  t.is(socket.getPeerCertificate().fingerprint256, fingerprintOf(s.certs.serverCert));
});

test('workers 1: a hook plugin sees connection.tls in connectionMade and preRequest, as the client negotiated it', async (t) => {
  const s = setup(t);
  const events = join(tempDir(t, 'tls-hooks'), 'events.jsonl');
  const ss = await startTls(t, s, ['--workers', '1', '--cert-reqs', 'optional', '--ca-certs', s.certs.ca, '--alpn', 'x-test',
    '--plugin', RECORDER, '--events-file', events]);
  const socket = await open(ss.port, { ca: read(s.certs.ca), cert: read(s.certs.clientCert), key: read(s.certs.clientKey), ALPNProtocols: ['x-test'] });
  t.teardown(() => socket.destroy());
  t.is(await ask(socket, 'hello'), 'hello'); // the taps ran (and wrote) before the handler answered
  const expected = { protocol: socket.getProtocol(), cipher: socket.getCipher().name, alpn: 'x-test', subject: { CN: 'ss test client' }, authorized: true };
  const recorded = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { hook: string; tls?: unknown });
  const seen = (hook: string) => recorded.filter((e) => e.hook === hook).map((e) => e.tls);
  t.deepEqual(seen('connectionMade'), [expected]);
  t.deepEqual(seen('preRequest'), [expected]);
});

test('a round trip with openssl s_client, checked against the CA', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '1']);
  const child = spawn('/usr/bin/openssl', ['s_client', '-connect', `127.0.0.1:${ss.port}`, '-CAfile', s.certs.ca,
    '-verify_return_error', '-quiet', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdin.write('from openssl\n');
  await eventually(() => (out.includes('from openssl\n') ? true : undefined), `the echo through s_client (stderr: ${err})`, 8000);
  t.regex(err, /verify return:1/);
});

test('mutual TLS: a client certificate from --ca-certs is accepted; none, or a stranger\'s, is refused', async (t) => {
  const s = setup(t);
  // No keep-alive: on a loaded machine the accepted client may sit idle past the default 15 s.
  const ss = await startTls(t, s, ['--workers', '1', '--cert-reqs', 'required', '--ca-certs', s.certs.ca, '--keep-alive', '0']);
  const ca = read(s.certs.ca);
  const socket = await open(ss.port, { ca, cert: read(s.certs.clientCert), key: read(s.certs.clientKey) });
  t.teardown(() => socket.destroy());
  const seen = JSON.parse(await ask(socket, 'tls')) as { authorized: boolean; subject: { CN: string } };
  t.true(seen.authorized);
  t.is(seen.subject.CN, 'ss test client');

  for (const [who, opts] of [['no certificate', { ca }], ['a stranger', { ca, cert: read(s.certs.strangerCert), key: read(s.certs.strangerKey) }]] as const) {
    // TLS 1.3: the client may finish its side before the server refuses; either way no reply comes.
    const refused = await open(ss.port, opts).then(async (c) => {
      c.on('error', () => {});
      c.write('hello\n');
      let got = '';
      c.on('data', (d: Buffer) => { got += d.toString(); });
      await closedOrFailed(c);
      return got;
    }, () => '');
    t.is(refused, '', `${who}: closed without a reply`);
  }
  await ss.waitForLog((l) => /TLS handshake with 127\.0\.0\.1:\d+ failed: .*; closed$/.test(l.msg));
  t.is(await ask(socket, 'still'), 'still', 'the accepted client is still served');
});

test('cert-reqs optional: served with or without a client certificate; authorized says which', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '0', '--cert-reqs', 'optional', '--ca-certs', s.certs.ca]);
  const ca = read(s.certs.ca);
  const withCert = JSON.parse((await once(ss.port, { ca, cert: read(s.certs.clientCert), key: read(s.certs.clientKey) }, 'tls')).reply);
  t.true(withCert.authorized);
  const stranger = JSON.parse((await once(ss.port, { ca, cert: read(s.certs.strangerCert), key: read(s.certs.strangerKey) }, 'tls')).reply);
  t.false(stranger.authorized);
  t.is(stranger.subject.CN, 'stranger');
  const without = JSON.parse((await once(ss.port, { ca }, 'tls')).reply);
  t.false(without.authorized);
});

test('workers 0: HUP reloads the certificate; a connection opened before keeps working; a broken one is logged and the old kept', async (t) => {
  const s = setup(t);
  // No keep-alive: on a loaded machine the old connection may sit idle past the default 15 s.
  const ss = await startTls(t, s, ['--workers', '0', '--keep-alive', '0']);
  const ca = read(s.certs.ca);
  const old = await open(ss.port, { ca });
  t.teardown(() => old.destroy());
  t.is(old.getPeerCertificate().fingerprint256, fingerprintOf(s.certs.serverCert));

  copyFileSync(s.certs.server2Cert, s.cert);
  copyFileSync(s.certs.server2Key, s.key);
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.startsWith('SIGHUP: TLS certificates reloaded'));
  t.is((await once(ss.port, { ca })).fingerprint, fingerprintOf(s.certs.server2Cert), 'a new connection gets the new certificate');
  t.is(await ask(old, 'old'), 'old', 'the connection from before the HUP still works');

  writeFileSync(s.cert, 'not a certificate\n');
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.startsWith('SIGHUP: TLS reload failed, still serving the previous certificate'));
  t.is((await once(ss.port, { ca })).fingerprint, fingerprintOf(s.certs.server2Cert), 'still the last good certificate');
});

test('workers 1: HUP starts workers with the new certificate; a connection opened before keeps working; a broken one fails the reload and the old workers serve', async (t) => {
  const s = setup(t);
  // No keep-alive: on a loaded machine the old connection may sit idle past the default 15 s.
  const ss = await startTls(t, s, ['--workers', '1', '--keep-alive', '0']);
  const ca = read(s.certs.ca);
  const before = (await ssInfo(ss.pid)).workers[0].pid as number;
  writeFileSync(s.cert, 'not a certificate\n');
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => /reload failed, still serving the previous config: .*certfile/.test(l.msg));
  t.is((await once(ss.port, { ca })).fingerprint, fingerprintOf(s.certs.serverCert));

  const old = await open(ss.port, { ca });
  t.teardown(() => old.destroy());
  copyFileSync(s.certs.server2Cert, s.cert);
  copyFileSync(s.certs.server2Key, s.key);
  process.kill(ss.pid, 'SIGHUP');
  await ss.waitForLog((l) => l.msg.endsWith('reloaded, every worker runs the new config'));
  // The old worker may take a connection or two before it reads its stop: new ones soon get the new worker's certificate.
  const fresh = fingerprintOf(s.certs.server2Cert);
  await eventually(async () => ((await once(ss.port, { ca })).fingerprint === fresh ? true : undefined), 'a new connection gets the new certificate', 10_000);
  t.is(await ask(old, 'old'), 'old', 'the connection from before the HUP still works: its worker serves it on');
  t.is(old.getPeerCertificate().fingerprint256, fingerprintOf(s.certs.serverCert));
  old.end();
  await eventually(async () => {
    const pids = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => w.pid) as number[];
    return pids.length === 1 && pids[0] !== before ? true : undefined;
  }, 'the new worker alone once the old connection is closed', 15_000);
});

test('a plain-text client on the TLS port is closed with a log line, and the server keeps serving', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '1']);
  const plain = tcpConnect({ host: '127.0.0.1', port: ss.port });
  plain.on('error', () => {});
  plain.on('data', () => {});
  plain.write('hello in plain text\n');
  await closedOrFailed(plain);
  await ss.waitForLog((l) => /^TLS handshake with 127\.0\.0\.1:\d+ failed: .*; closed$/.test(l.msg));
  t.is((await once(ss.port, { ca: read(s.certs.ca) })).reply, 'hello');
});

test('a client that never finishes the handshake is closed after --tls-handshake-timeout', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '0', '--tls-handshake-timeout', '0.3']);
  const silent = tcpConnect({ host: '127.0.0.1', port: ss.port });
  silent.on('error', () => {});
  const started = Date.now();
  await closedOrFailed(silent);
  const took = Date.now() - started;
  t.true(took >= 250 && took < 9000, `closed after ${took} ms (before the 10 s default)`);
  await ss.waitForLog((l) => /handshake not done after 0\.3s; closed$/.test(l.msg));
});

for (const balance of BALANCES) {
  test(`workers 2, ${balance}: both workers serve TLS, and a session resumes whichever worker it reaches`, async (t) => {
    const s = setup(t);
    const ss = await startTls(t, s, ['--workers', '2', '--balance', balance]);
    const workers = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => String(w.pid)) as string[];
    const ca = read(s.certs.ca);
    let session: Buffer | undefined;
    const servedBy = new Set<string>();
    let resumedOn = new Set<string>();
    for (let i = 0; i < 40 && (servedBy.size < 2 || resumedOn.size < 2); i++) {
      const socket = await open(ss.port, { ca, ...(session ? { session } : {}) });
      socket.on('session', (next: Buffer) => { session = next; });
      const pid = await ask(socket, 'pid'); // TLS 1.3 sends its ticket after the handshake: read before closing
      servedBy.add(pid);
      if (socket.isSessionReused()) resumedOn.add(pid);
      socket.destroy();
    }
    t.deepEqual([...servedBy].sort(), [...workers].sort(), 'both workers served');
    t.deepEqual([...resumedOn].sort(), [...workers].sort(), 'a ticket from one worker resumed on the other too');
  });
}

test('keyfile without certfile, or certfile without keyfile, is a usage error naming the setting', async (t) => {
  const key = await runSs(['serve', '--plugin', 'line', '--keyfile', '/nonexistent.key']);
  t.is(key.code, 2);
  t.is(key.stderr, 'ss: --keyfile needs certfile (--certfile): TLS takes both\n');
  const cert = await runSs(['serve', '--plugin', 'line'], { env: { SS_CERTFILE: '/nonexistent.pem' } });
  t.is(cert.code, 2);
  t.is(cert.stderr, 'ss: SS_CERTFILE needs keyfile (--keyfile): TLS takes both\n');
});

test('an unreadable certificate fails start-up with exit 1 naming the file', async (t) => {
  const s = setup(t);
  const r = await runSs(['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', '--certfile', join(s.certs.dir, 'missing.pem'), '--keyfile', s.key]);
  t.is(r.code, 1);
  t.regex(r.stderr, /certfile .*missing\.pem: ENOENT/);
});

test('ss send --tls --ca-certs, and createClient({ tls }), talk to a TLS server; an unknown CA is refused', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '0']);
  const sent = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, '--tls', '--ca-certs', s.certs.ca, 'one', 'two']);
  t.is(sent.code, 0, sent.stderr);
  t.is(sent.stdout, 'one\ntwo\n');
  const byName = await runSs(['send', '--plugin', 'line', '--bind', `localhost:${ss.port}`, '--tls', '--ca-certs', s.certs.ca, 'sni']);
  t.is(byName.stdout, 'sni\n', byName.stderr);
  const untrusted = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, '--tls', 'x']);
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /^ss: cannot connect to 127\.0\.0\.1:\d+: .*certificate/);

  const client = await createClient<string, Buffer>({ plugin: 'line', address: `127.0.0.1:${ss.port}`, tls: { ca: read(s.certs.ca) } });
  t.teardown(() => client.close());
  t.is(String(await client.request('tls')).startsWith('{"protocol":"TLSv1.3"'), true);
});

test('certificate paths in a config file are relative to its folder', async (t) => {
  const s = setup(t);
  const config = join(dirname(s.cert), 'socketserver.config.mjs'); // beside live.pem and live.key
  writeFileSync(config, "export default { bind: '127.0.0.1:0', workers: 1, plugins: ['line'], certfile: 'live.pem', keyfile: 'live.key' };\n");
  const ss = await startSs(t, ['--config', config], { freePort: false });
  t.is((await once(ss.port, { ca: read(s.certs.ca) })).fingerprint, fingerprintOf(s.certs.serverCert));
});

for (const workers of ['0', '2']) {
  test(`workers ${workers}: the PROXY header comes before the handshake; the handler sees the header's client over TLS`, async (t) => {
    const s = setup(t);
    const ss = await startTls(t, s, ['--workers', workers, '--proxy-protocol', 'v1']);
    // A balancer's connection: the v1 header in clear, then the client's TLS on the same socket.
    const raw = tcpConnect({ host: '127.0.0.1', port: ss.port });
    t.teardown(() => raw.destroy());
    await new Promise<void>((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });
    raw.write('PROXY TCP4 192.0.2.7 127.0.0.1 40001 8060\r\n');
    const socket = await open(ss.port, { ca: read(s.certs.ca), socket: raw });
    t.is(await ask(socket, 'peer'), '192.0.2.7:40001');
    t.not(JSON.parse(await ask(socket, 'tls')), null);
  });
}

test('a client still in its handshake when TERM comes is served once, then the server exits 0', async (t) => {
  const s = setup(t);
  const ss = await startTls(t, s, ['--workers', '0']);
  const raw = tcpConnect({ host: '127.0.0.1', port: ss.port });
  t.teardown(() => raw.destroy());
  await new Promise<void>((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });
  await sleep(200); // accepted, its handshake not begun
  process.kill(ss.pid, 'SIGTERM');
  await ss.waitForLog((l) => /^stopping/.test(l.msg));
  const socket = await open(ss.port, { ca: read(s.certs.ca), socket: raw });
  t.is(await ask(socket, 'last'), 'last');
  await closedOrFailed(socket);
  t.is((await ss.exited).code, 0);
});
