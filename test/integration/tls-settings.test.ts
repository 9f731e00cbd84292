import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { certsForFile, read } from '../helpers/certs.js';
import { REPO, runSs, startSs, type SsProcess } from '../helpers/ss.js';
import { askTls, openTls, refusedTls } from '../helpers/tls.js';

// --ciphers, --tls-min-version and --alpn, each seen from both ends: what a client that meets
// the setting gets, and what one that does not gets (a refused handshake, and the server's line
// about that connection).

const HANDLER = join(REPO, 'test/fixtures/runtime/tls-handler.mjs');
const certs = certsForFile(test);

async function startTls(t: ExecutionContext, args: readonly string[]): Promise<SsProcess> {
  const c = certs();
  const ss = await startSs(t, ['--plugin', 'line', '--handler', HANDLER, '--workers', '0', '--certfile', c.serverCert, '--keyfile', c.serverKey, ...args]);
  return ss;
}

/** Handshake, ask for connection.tls as the handler sees it, close: that and what the client saw. */
async function served(port: number, opts: ConnectionOptions): Promise<{ seen: Record<string, unknown>; protocol: string | null; cipher: string }> {
  const socket = await openTls(port, { ca: read(certs().ca), ...opts });
  try {
    const seen = JSON.parse(await askTls(socket, 'tls')) as Record<string, unknown>;
    return { seen, protocol: socket.getProtocol(), cipher: socket.getCipher().name };
  } finally {
    socket.destroy();
  }
}

/** The handshake is refused, and the server says why in its line about this connection. */
async function refused(ss: SsProcess, opts: ConnectionOptions, why: RegExp): Promise<void> {
  const { localPort } = await refusedTls(ss.port, { ca: read(certs().ca), ...opts });
  const line = await ss.waitForLog((l) => l.msg.startsWith(`TLS handshake with 127.0.0.1:${localPort} failed: `));
  if (!why.test(line.msg) || !line.msg.endsWith('; closed')) throw new Error(`the refusal says ${JSON.stringify(line.msg)}, expected ${why}`);
}

const ALLOWED = 'ECDHE-ECDSA-AES128-GCM-SHA256';
const OTHER = 'ECDHE-ECDSA-AES256-GCM-SHA384'; // as good, and offered by Node's default list: only --ciphers refuses it

test('--ciphers: a TLS 1.2 client offering only another cipher is refused; one offering the allowed cipher gets it; TLS 1.3 suites are not governed by it', async (t) => {
  const ss = await startTls(t, ['--tls-min-version', 'TLSv1.2', '--ciphers', ALLOWED]);
  await t.notThrowsAsync(refused(ss, { maxVersion: 'TLSv1.2', ciphers: OTHER }, /no shared cipher/));
  const allowed = await served(ss.port, { maxVersion: 'TLSv1.2', ciphers: `${OTHER}:${ALLOWED}` });
  t.like(allowed, { protocol: 'TLSv1.2', cipher: ALLOWED });
  t.like(allowed.seen, { protocol: 'TLSv1.2', cipher: ALLOWED }, 'connection.tls names the cipher');
  // The list is OpenSSL's for TLS 1.2 and below: a TLS 1.3 client gets a TLS 1.3 suite whatever it says.
  const v13 = await served(ss.port, { ciphers: OTHER });
  t.is(v13.protocol, 'TLSv1.3');
  t.is(v13.seen.cipher, v13.cipher);
  t.regex(v13.cipher, /^TLS_/);
});

test('--ciphers that OpenSSL matches to no cipher fails start-up with one line naming ciphers, not the certificate', async (t) => {
  const c = certs();
  const r = await runSs(['serve', '--plugin', 'line', '--workers', '0', '--bind', '127.0.0.1:0', '--certfile', c.serverCert, '--keyfile', c.serverKey, '--ciphers', 'NO-SUCH-CIPHER']);
  t.is(r.code, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /^ss: TLS: ciphers "NO-SUCH-CIPHER": .*no cipher match\n$/);
});

test('--tls-min-version: TLSv1.3 refuses a client capped at TLSv1.2, which the default (TLSv1.2) serves', async (t) => {
  const strict = await startTls(t, ['--tls-min-version', 'TLSv1.3']);
  await t.notThrowsAsync(refused(strict, { maxVersion: 'TLSv1.2' }, /unsupported protocol/));
  t.like((await served(strict.port, {})).seen, { protocol: 'TLSv1.3' });
  const byDefault = await startTls(t, []);
  t.like((await served(byDefault.port, { maxVersion: 'TLSv1.2' })).seen, { protocol: 'TLSv1.2' });
});

// OpenSSL 3 refuses TLS below 1.2 at its default security level whatever the minimum version
// (no SHA-1 signatures): only with a cipher list at level 0, on both ends, does the minimum decide.
const LEVEL_0 = 'DEFAULT@SECLEVEL=0';

test('--tls-min-version: the default (TLSv1.2) refuses a client capped at TLSv1.1, which TLSv1.1 serves', async (t) => {
  const tls11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: LEVEL_0 } as const;
  const byDefault = await startTls(t, ['--ciphers', LEVEL_0]);
  await t.notThrowsAsync(refused(byDefault, tls11, /unsupported protocol/));
  const old = await startTls(t, ['--ciphers', LEVEL_0, '--tls-min-version', 'TLSv1.1']);
  t.like((await served(old.port, tls11)).seen, { protocol: 'TLSv1.1' });
});

test('--alpn: a client offering none of the protocols is refused; otherwise the server\'s most preferred one it offers is in connection.tls', async (t) => {
  const ss = await startTls(t, ['--alpn', 'x-test', '--alpn', 'x-other']);
  await t.notThrowsAsync(refused(ss, { ALPNProtocols: ['h2', 'http/1.1'] }, /no application protocol/));
  t.like((await served(ss.port, { ALPNProtocols: ['h2', 'x-other'] })).seen, { alpn: 'x-other' });
  t.like((await served(ss.port, { ALPNProtocols: ['x-other', 'x-test'] })).seen, { alpn: 'x-test' }, 'the server\'s order decides');
  // ALPN is optional in TLS: a client that offers none at all is served, without a protocol.
  t.like((await served(ss.port, {})).seen, { alpn: false });
});
