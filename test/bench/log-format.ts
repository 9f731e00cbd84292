// Cost of the pretty log format against JSON lines: N info lines with two fields through
// createLogger, to /dev/null, each format in turn (json, pretty, json, ...) in this process.
// Lines are written in the background: the loop waits for them every 1000 lines, so that
// none is dropped (a process holds at most 1 MiB of lines) and each run counts their writing.
//
//   node test/dist/bench/log-format.js [--lines 200000] [--rounds 3]
//
// Prints one JSON line on stdout: median lines/s of each format and pretty/json.
import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger, droppedLogLines, type LogFormat } from '@socketserver/core';

const { values: opt } = parseArgs({ options: { lines: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' } } });
const lines = Number(opt.lines);
const rounds = Number(opt.rounds);
if (!(Number.isInteger(lines) && lines >= 1000 && lines <= 10_000_000) || !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) {
  console.error('log-format: --lines 1000..10000000, --rounds 1..20');
  process.exit(2);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fd = openSync('/dev/null', 'w');

/** Lines per second of one run of `format`. */
async function run(format: LogFormat): Promise<number> {
  const log = createLogger('info', 'bench', format, fd);
  const written = () => new Promise<void>((resolve) => log.flush(() => resolve()));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < lines; i++) {
    log.info({ worker: i & 7, address: '127.0.0.1:8060' }, 'connection closed');
    if (i % 1000 === 999) await written();
  }
  await written();
  return lines / (Number(process.hrtime.bigint() - t0) / 1e9);
}

await run('json'); // warm up both paths first
await run('pretty');
const rate: Record<'json' | 'pretty', number[]> = { json: [], pretty: [] };
for (let r = 0; r < rounds; r++) {
  for (const format of ['json', 'pretty'] as const) rate[format].push(await run(format));
  console.error(`  log-format round ${r + 1}: json ${Math.round(rate.json.at(-1)!)} lines/s, pretty ${Math.round(rate.pretty.at(-1)!)} lines/s`);
}
closeSync(fd);
if (droppedLogLines() > 0) throw new Error(`${droppedLogLines()} lines dropped: the run does not count them`);
const json = median(rate.json);
const pretty = median(rate.pretty);
console.log(JSON.stringify({ node: process.version, lines, json_lines_s: Math.round(json), pretty_lines_s: Math.round(pretty), ratio: Number((pretty / json).toFixed(3)) }));
