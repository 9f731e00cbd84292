import { connect as tcpConnect } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** A TLS line client: the socket once the handshake is done. */
export function openTls(port: number, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
    setTimeout(() => { socket.destroy(); reject(new Error('TLS connect timed out')); }, 5000).unref();
  });
}

/** Send one line and read one line back. */
export function askTls(socket: TLSSocket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no reply to ${line}; got ${JSON.stringify(got)}`)), 10_000);
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      const nl = got.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(got.slice(0, nl).replace(/\r$/, ''));
    };
    socket.on('data', onData);
    socket.write(`${line}\n`);
  });
}

/** Resolves once the client sees the connection end (a refused handshake: an error, then close). */
export function closedOrFailed(socket: { once(e: 'close', f: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => { socket.once('close', () => resolve()); });
}

/**
 * A handshake the server should refuse: our port (to find the server's log line about this
 * connection) and the client's error. Rejects if the handshake completes.
 */
export async function refusedTls(port: number, opts: ConnectionOptions): Promise<{ localPort: number; error: Error }> {
  const raw = tcpConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { raw.once('connect', resolve); raw.once('error', reject); });
  const localPort = raw.localPort!;
  const outcome = await openTls(port, { ...opts, socket: raw }).catch((err: Error) => err);
  raw.destroy();
  if (!(outcome instanceof Error)) {
    throw new Error(`the handshake succeeded (${outcome.getProtocol()}, ${outcome.getCipher().name}, ALPN ${String(outcome.alpnProtocol)})`);
  }
  return { localPort, error: outcome };
}
