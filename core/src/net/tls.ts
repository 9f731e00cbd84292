// TLS termination in the process that serves the connection (a worker, or the arbiter with
// workers 0): imported only when a certfile is set, so a plain server loads no node:tls.
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import { StartupError, errorMessage } from '../errors.js';
import { peerVerifyError } from './native-handle.js';

/** The TLS settings, with file paths already resolved. */
export interface TlsOptions {
  readonly certfile: string;
  readonly keyfile: string;
  readonly caCerts: string | undefined;
  readonly certReqs: 'none' | 'optional' | 'required';
  readonly ciphers: string | undefined;
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly alpn: readonly string[];
  /** Milliseconds; 0 = no limit. */
  readonly handshakeTimeoutMs: number;
  /** Names the server in the session id context: sessions resume only on the server that made them. */
  readonly name: string;
}

/** What `connection.tls` tells hooks and handlers. */
export interface TlsInfo {
  readonly protocol: string | null;
  readonly cipher: string;
  /** The protocol ALPN chose, or false when none was. */
  readonly alpn: string | false;
  /** The client certificate's subject, when the client sent one. */
  readonly subject?: Readonly<Record<string, string | string[]>>;
  /** The client sent a certificate that ca_certs vouches for. */
  readonly authorized: boolean;
}

/** Session ticket keys are 48 bytes (name, AES key, HMAC key). */
export const TICKET_KEY_BYTES = 48;

/**
 * The server side of TLS for one server: the current SecureContext (replaced whole by
 * `reload`; a connection keeps the one it was made with) and the handshake of each accepted
 * socket.
 */
export class TlsTerminator {
  private context: SecureContext;
  /** Shared by every worker of the server (from the arbiter), so a ticket from one resumes on any. */
  private ticketKeys: Buffer = randomBytes(TICKET_KEY_BYTES);
  private readonly sessionIdContext: string;

  constructor(readonly opts: TlsOptions) {
    // At most 32 bytes (SSL_MAX_SID_CTX_LENGTH); needed to resume a session when client certificates are asked for.
    this.sessionIdContext = createHash('sha256').update(`socketserver:${opts.name}`).digest('hex').slice(0, 32);
    this.context = this.load();
  }

  /** Read the files and build a context; throws a StartupError naming what is wrong. */
  private load(): SecureContext {
    const o = this.opts;
    const read = (setting: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new StartupError(`${setting} ${file}: ${errorMessage(err)}`);
      }
    };
    const cert = read('certfile', o.certfile);
    const key = read('keyfile', o.keyfile);
    const ca = o.caCerts === undefined ? undefined : read('ca_certs', o.caCerts);
    try {
      return createSecureContext({
        cert, key, ...(ca ? { ca } : {}), ...(o.ciphers ? { ciphers: o.ciphers } : {}),
        minVersion: o.minVersion, sessionIdContext: this.sessionIdContext, ticketKeys: this.ticketKeys,
      });
    } catch (err) {
      throw new StartupError(`TLS: ${this.culprit()}: ${errorMessage(err)}`);
    }
  }

  /**
   * The setting a failed context comes from: OpenSSL says what is wrong (`no cipher match`) but
   * not which input, and a cipher list alone tells whether it is the one.
   */
  private culprit(): string {
    const o = this.opts;
    if (o.ciphers) {
      try {
        createSecureContext({ ciphers: o.ciphers });
      } catch {
        return `ciphers ${JSON.stringify(o.ciphers)}`;
      }
    }
    return `certfile ${o.certfile} / keyfile ${o.keyfile}`;
  }

  /** Use these ticket keys from now on (the arbiter's, shared by the server's workers). */
  setTicketKeys(keys: Buffer): void {
    this.ticketKeys = keys;
    (this.context.context as { setTicketKeys(k: Buffer): void }).setTicketKeys(keys);
  }

  /** Read the certificate files again; on failure this throws and the current context stays. */
  reload(): void {
    this.context = this.load();
  }

  /**
   * Wrap an accepted plain socket and run the handshake: `secured` gets the TLS socket once it
   * is done, `failed` the reason it was not (the socket is then destroyed).
   */
  wrap(socket: Socket, secured: (tls: TLSSocket, info: TlsInfo) => void, failed: (err: Error) => void): TLSSocket {
    const o = this.opts;
    const requestCert = o.certReqs !== 'none';
    const tls = new TLSSocket(socket, {
      isServer: true, secureContext: this.context, requestCert, rejectUnauthorized: o.certReqs === 'required',
      ...(o.alpn.length > 0 ? { ALPNProtocols: [...o.alpn] } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      tls.off('secure', onSecure);
      tls.off('close', onClose);
      tls.destroy();
      failed(err);
    };
    const onClose = () => fail(new Error('closed by the client during the handshake'));
    const onSecure = () => {
      // Node checks the client's certificate chain in tls.Server, which we do not use: check it here.
      const verifyError = requestCert ? peerVerifyError(tls) : null;
      const peer = requestCert ? tls.getPeerCertificate() : undefined;
      const hasCert = peer !== undefined && Object.keys(peer).length > 0;
      if (o.certReqs === 'required' && (verifyError || !hasCert)) {
        fail(new Error(`client certificate refused: ${verifyError ? errorMessage(verifyError) : 'none sent'}`));
        return;
      }
      done = true;
      clearTimeout(timer);
      tls.off('close', onClose);
      const info: TlsInfo = {
        protocol: tls.getProtocol(), cipher: tls.getCipher()?.name ?? '', alpn: tls.alpnProtocol ?? false,
        ...(hasCert ? { subject: { ...peer!.subject } as Record<string, string | string[]> } : {}),
        authorized: hasCert && !verifyError,
      };
      secured(tls, info);
    };
    tls.once('secure', onSecure);
    // Stays: once secure, the connection's own listener reports errors; this one then ignores them.
    tls.on('error', fail);
    tls.once('close', onClose);
    if (o.handshakeTimeoutMs > 0) {
      timer = setTimeout(() => fail(new Error(`handshake not done after ${o.handshakeTimeoutMs / 1000}s`)), o.handshakeTimeoutMs).unref();
    }
    return tls;
  }
}
