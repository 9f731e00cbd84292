// Per-byte cost of a big message: one 64 MiB netstring fed through the real connection
// loop (test/helpers/pipeline.ts, no sockets) as 1024 reads of 64 KiB vs 64 reads of
// 1 MiB. If pending bytes were re-copied or re-scanned per read, small reads would cost
// far more per MiB than big ones. Run in its own process (the runner does) so its big
// allocations do not disturb the socket workloads; `--expose-gc` lets it collect between
// repetitions. Prints one JSON object on stdout.
//
//   node --expose-gc test/dist/bench/big-netstring.js [--reps 5]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pipeline } from '../helpers/pipeline.js';

const { values: opt } = parseArgs({ options: { reps: { type: 'string', default: '5' } } });
const reps = Math.max(1, Math.min(50, Number(opt.reps) || 5));
setTimeout(() => { console.error('big-netstring: hard time cap hit'); process.exit(4); }, 120_000).unref();

const MIB = 1024 * 1024;
const PAYLOAD = 64 * MIB;
const header = Buffer.from(`${PAYLOAD}:`, 'latin1');
const wire = Buffer.allocUnsafe(header.length + PAYLOAD + 1);
header.copy(wire, 0);
wire.fill('x', header.length, header.length + PAYLOAD);
wire[wire.length - 1] = 0x2c; // ','

const p = await pipeline({ plugin: ['netstring'], 'max-netstring': '80mb', 'keep-alive': '0' });
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
let errors = 0;

/** Feed the frame as reads of `readSize` bytes; ms from the first read to the reply written. */
function feed(readSize: number): number {
  // Reads as a socket delivers them: separate chunks (views of `wire`, so nothing is allocated up front).
  const reads: Buffer[] = [];
  for (let at = 0; at < wire.length; at += readSize) reads.push(wire.subarray(at, Math.min(at + readSize, wire.length)));
  const s = p.connect();
  let bytes = 0;
  let last: Uint8Array | undefined;
  s.write = (data: string | Uint8Array): boolean => {
    bytes += data.length;
    last = typeof data === 'string' ? Buffer.from(data) : data;
    return true;
  };
  gc();
  const t0 = performance.now();
  for (const r of reads) s.receive(r);
  const ms = performance.now() - t0;
  if (bytes !== wire.length || last?.[last.length - 1] !== 0x2c || s.destroyed) errors++; // the reply must be the whole netstring
  s.destroy();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
feed(64 * 1024); // warm up both paths once
feed(MIB);
const small: number[] = [];
const big: number[] = [];
for (let i = 0; i < reps; i++) { // alternate, so drift hits both alike
  small.push(feed(64 * 1024));
  big.push(feed(MIB));
}
const perMib = (ms: number) => Math.round((ms / 64) * 1000) / 1000;
const result = {
  reps, errors,
  ms_per_mib_64k: perMib(median(small)), ms_per_mib_1m: perMib(median(big)),
  ratio: Math.round((median(small) / median(big)) * 100) / 100,
  runs_ms_64k: small.map((x) => Math.round(x)), runs_ms_1m: big.map((x) => Math.round(x)),
};
await p.server.shutdown(0);
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(errors === 0 ? 0 : 1));
