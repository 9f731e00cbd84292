// The "no framework" multi-process baseline: baseline-server's per-connection code
// (baseline-conn.ts) in N node:cluster workers, the way one would write it by hand.
// Default scheduling (round-robin on Linux: the primary accepts and hands each
// connection to the next worker).
//
//   node test/dist/bench/cluster-baseline.js <echo|line|netstring> <workers> <port>
//
// Listens on 127.0.0.1 (port 0 = any: the workers' listen(0) calls share one port
// through the primary), prints `listening 127.0.0.1:PORT` on stdout once all workers
// listen. SIGTERM: the primary stops the workers, then exits. A worker that dies while
// serving takes the whole server down (exit 1), so a run cannot silently go on with
// fewer workers.
import cluster from 'node:cluster';
import { BACKLOG, BASELINE_PROTOS, baselineServer, type BaselineProto } from './baseline-conn.js';

const [proto, workersArg, portArg] = process.argv.slice(2);
const workers = Number(workersArg);
const port = Number(portArg ?? 0);
if (!BASELINE_PROTOS.includes(proto ?? '') || !(Number.isInteger(workers) && workers >= 1 && workers <= 64) ||
    !(Number.isInteger(port) && port >= 0 && port < 65536)) {
  console.error('usage: cluster-baseline <echo|line|netstring> <workers 1..64> <port>');
  process.exit(2);
}

if (cluster.isPrimary) {
  const STOP_MS = 3000; // workers still alive this long after SIGTERM get SIGKILL
  let listening = 0;
  let bound = -1;
  let stopping = false;
  let alive = 0;

  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const done = () => process.exit(code);
    if (alive === 0) return done();
    cluster.on('exit', () => { if (alive === 0) done(); });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      done();
    }, STOP_MS).unref();
  };

  cluster.on('listening', (_worker, address) => {
    if (bound !== -1 && address.port !== bound) {
      console.error(`cluster-baseline: workers listen on different ports (${bound}, ${address.port})`);
      return stop(1);
    }
    bound = address.port;
    if (++listening === workers) console.log(`listening 127.0.0.1:${bound}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (!stopping) {
      console.error(`cluster-baseline: worker ${worker.process.pid} exited (${code ?? signal})`);
      stop(1);
    }
  });
  for (let i = 0; i < workers; i++) {
    cluster.fork();
    alive++;
  }
  process.on('SIGTERM', () => stop(0));
} else {
  const server = baselineServer(proto as BaselineProto);
  server.listen({ host: '127.0.0.1', port, backlog: BACKLOG });
  process.on('SIGTERM', () => {
    server.close();
    process.exit(0);
  });
}
