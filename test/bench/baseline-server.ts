// The "no framework" baseline: what a competent hand-written node:net server for the
// same protocols costs. ss is measured against it, so it is plain, idiomatic and fast,
// with the same limits as ss's defaults and the same per-message shape (decode, call a
// handler, encode, one write per read). The per-connection code is in baseline-conn.ts.
//
//   node test/dist/bench/baseline-server.js <echo|line|netstring> <port> [CERTFILE KEYFILE]
//
// With a certificate and key it speaks TLS (node:tls's createServer).
//
// Listens on 127.0.0.1 (port 0 = any), prints `listening 127.0.0.1:PORT` on stdout,
// stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { BACKLOG, BASELINE_PROTOS, baselineServer, type BaselineProto } from './baseline-conn.js';

const [proto, portArg, certfile, keyfile] = process.argv.slice(2);
const port = Number(portArg ?? 0);
if (!BASELINE_PROTOS.includes(proto ?? '') || !Number.isInteger(port)) {
  console.error('usage: baseline-server <echo|line|netstring> <port>');
  process.exit(2);
}

const tls = certfile && keyfile ? { cert: readFileSync(certfile), key: readFileSync(keyfile), tls: await import('node:tls') } : undefined;
const server = baselineServer(proto as BaselineProto, tls);
server.listen({ host: '127.0.0.1', port, backlog: BACKLOG }, () => {
  const addr = server.address();
  console.log(`listening 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
