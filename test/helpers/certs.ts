import type { TestFn } from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of PEM files made at test time (no key or certificate is committed). */
export interface Certs {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A second server certificate for the same names: what a reload switches to. */
  readonly server2Cert: string;
  readonly server2Key: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate signed by nobody the server trusts. */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** EC keys: quick to make, and as good for a test as RSA. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA, two server certificates for 127.0.0.1/localhost signed by it, a client certificate signed by it, and a self-signed client one. */
export function makeCerts(dir: string): Certs {
  openssl(dir, ['req', '-x509', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ss test CA']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const signed = (name: string, cn: string, ext: string, serial: string) => {
    openssl(dir, ['req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial,
      '-days', '2', '-extfile', ext, '-out', `${name}.pem`]);
  };
  signed('server', 'localhost', 'server.ext', '2');
  signed('server2', 'localhost', 'server.ext', '3');
  signed('client', 'ss test client', 'client.ext', '4');
  openssl(dir, ['req', '-x509', ...NEW_KEY, '-keyout', 'stranger.key', '-out', 'stranger.pem', '-days', '2', '-subj', '/CN=stranger']);
  const p = (f: string) => join(dir, f);
  return {
    dir, ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), server2Cert: p('server2.pem'), server2Key: p('server2.key'),
    clientCert: p('client.pem'), clientKey: p('client.key'), strangerCert: p('stranger.pem'), strangerKey: p('stranger.key'),
  };
}

export const read = (file: string): Buffer => readFileSync(file);

/**
 * One set of certificates for a test file, made before any of its tests starts (a getter for
 * them) and removed after: making them runs openssl synchronously, which would stall the other
 * tests' servers' start-up if each test made its own.
 */
export function certsForFile(test: TestFn): () => Certs {
  const dir = mkdtempSync(join(tmpdir(), 'ss-tls-certs-'));
  let made: Certs | undefined;
  test.before(() => { made = makeCerts(dir); });
  test.after.always(() => rmSync(dir, { recursive: true, force: true }));
  return () => made!;
}
