// Many idle connections, for measuring what an idle client costs a server.
//
//   node test/dist/bench/idle-clients.js --proto line --port N [--conns 10000] [--hold 10]
//
// Opens `conns` connections (a bounded number of connects in flight), prints
// {"event":"established",...} on stdout, then holds them until a line arrives on stdin
// or `hold` seconds pass. Then sends one small request on each, checks each reply byte
// for byte, and prints {"event":"done",...}. Exit 0 only if every connection answered.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { frameEnd, INCOMPLETE, PROTOS, requestPool, type Proto } from './frames.js';

const { values: opt } = parseArgs({
  options: {
    proto: { type: 'string', default: 'line' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    conns: { type: 'string', default: '10000' },
    hold: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '256' },
  },
});
const proto = opt.proto as Proto;
const host = opt.host!;
const port = Number(opt.port);
const conns = Number(opt.conns);
const holdMs = Number(opt.hold) * 1000;
const concurrency = Number(opt.concurrency);
if (!PROTOS.includes(proto) || !(port > 0 && port < 65536) || !(conns >= 1) || !(holdMs >= 0) || !(concurrency >= 1)) {
  console.error('idle-clients: bad arguments');
  process.exit(2);
}
if (host !== '127.0.0.1' && host !== '::1') {
  console.error('idle-clients: --host must be 127.0.0.1 or ::1');
  process.exit(2);
}

const CONNECT_TIMEOUT_MS = 30_000;
const REPLY_TIMEOUT_MS = 10_000;
setTimeout(() => {
  console.error('idle-clients: hard time cap hit');
  process.exit(4);
}, CONNECT_TIMEOUT_MS + holdMs + REPLY_TIMEOUT_MS + 10_000).unref();

const SIZE = 16;
const { pool, frameSize: F } = requestPool(proto, SIZE, conns);
const stats = { established: 0, connectErrors: 0, errors: 0, closes: 0, answered: 0, mismatches: 0 };
let finishing = false;
let onAnswer = () => {};

/** One held connection; its request is pool frame `i`, its reply must equal it. */
function open(i: number, settled: () => void): Socket {
  const expected = pool.subarray(i * F, (i + 1) * F);
  let got: Buffer | null = null;
  let connected = false;
  let replied = false;
  const sock = connect({ host, port, noDelay: true });
  sock.once('connect', () => { connected = true; stats.established++; settled(); });
  sock.on('error', () => {
    if (connected) stats.errors++;
    else { stats.connectErrors++; settled(); }
  });
  sock.on('close', () => { if (connected && !replied && !finishing) stats.closes++; });
  sock.on('data', (chunk: Buffer) => {
    got = got === null ? chunk : Buffer.concat([got, chunk]);
    const end = proto === 'echo' ? (got.length >= F ? F : INCOMPLETE) : frameEnd(proto, got, 0, got.length);
    if (end === INCOMPLETE && got.length <= 2 * F) return;
    replied = true;
    if (end === F && got.length === F && got.equals(expected)) stats.answered++;
    else stats.mismatches++;
    onAnswer();
  });
  return sock;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const socks: Socket[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
    let next = 0;
    const settled = () => {
      if (stats.established + stats.connectErrors >= conns) {
        clearTimeout(timer);
        resolve();
      } else if (next < conns) socks.push(open(next++, settled));
    };
    while (next < Math.min(concurrency, conns)) socks.push(open(next++, settled));
  });
  console.log(JSON.stringify({ event: 'established', established: stats.established, connect_errors: stats.connectErrors,
    ms: Math.round(performance.now() - t0) }));

  // Hold until told (a stdin line) or `hold` passes.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, holdMs);
    process.stdin.once('data', () => { clearTimeout(timer); resolve(); });
    process.stdin.once('end', () => { clearTimeout(timer); resolve(); });
  });
  process.stdin.pause();
  const closedWhileHeld = stats.closes;

  // One request on each connection still open; wait for every reply (bounded).
  const t1 = performance.now();
  let live = 0;
  for (let i = 0; i < socks.length; i++) {
    const s = socks[i]!;
    if (s.readyState !== 'open') continue;
    live++;
    s.write(pool.subarray(i * F, (i + 1) * F));
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, REPLY_TIMEOUT_MS);
    onAnswer = () => { if (stats.answered + stats.mismatches >= live) { clearTimeout(timer); resolve(); } };
    onAnswer();
  });
  finishing = true;
  for (const s of socks) s.destroy();
  const result = {
    event: 'done', conns, established: stats.established, connect_errors: stats.connectErrors,
    closed_while_held: closedWhileHeld, answered: stats.answered, mismatches: stats.mismatches,
    errors: stats.errors, closes: stats.closes, reply_ms: Math.round(performance.now() - t1),
  };
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(result)}\n`, () => r()));
  return stats.answered === conns && stats.mismatches === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  console.error('idle-clients:', err);
  process.exit(1);
});
