// The hand-written UDP echo server the udp-* workloads compare ss with: `node:dgram` as a Node
// engineer writes one, each datagram sent back to its sender.
//
//   node test/dist/bench/udp-baseline.js <workers> <port>
//
// workers 0: one process. workers N ≥ 1: N node:cluster workers, each binding the same port; in
// cluster a dgram socket bound in a worker is the primary's one socket, shared (UDP is never
// round-robin), as ss's arbiter hands its socket to every worker.
//
// Binds 127.0.0.1 (port 0 = any: the workers' first bind(0) shares one port through the
// primary), prints `listening 127.0.0.1:PORT` on stdout once every worker is bound, stops on
// SIGTERM (the primary stops its workers). A worker that dies while serving takes the whole
// server down (exit 1), so a run cannot silently go on with fewer workers.
import cluster from 'node:cluster';
import { createSocket } from 'node:dgram';

const [workersArg, portArg] = process.argv.slice(2);
const workers = Number(workersArg);
const port = Number(portArg ?? 0);
if (!(Number.isInteger(workers) && workers >= 0 && workers <= 64) || !(Number.isInteger(port) && port >= 0 && port < 65536)) {
  console.error('usage: udp-baseline <workers 0..64> <port>');
  process.exit(2);
}

function serve(onBound: (port: number) => void): void {
  const socket = createSocket('udp4');
  socket.on('message', (m, r) => socket.send(m, r.port, r.address));
  socket.bind(port, '127.0.0.1', () => onBound(socket.address().port));
  process.on('SIGTERM', () => {
    socket.close();
    process.exit(0);
  });
}

if (workers === 0) {
  serve((bound) => console.log(`listening 127.0.0.1:${bound}`));
} else if (cluster.isPrimary) {
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
      console.error(`udp-baseline: workers bound different ports (${bound}, ${address.port})`);
      return stop(1);
    }
    bound = address.port;
    if (++listening === workers) console.log(`listening 127.0.0.1:${bound}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (!stopping) {
      console.error(`udp-baseline: worker ${worker.process.pid} exited (${code ?? signal})`);
      stop(1);
    }
  });
  for (let i = 0; i < workers; i++) {
    cluster.fork();
    alive++;
  }
  process.on('SIGTERM', () => stop(0));
} else {
  serve(() => { /* the primary hears of it ('listening') */ });
}
