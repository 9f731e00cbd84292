import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask, Client } from '../helpers/client.js';
import { eventually, runSs, SS_BIN, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';
import { FIXTURES, tempDir } from '../helpers/temp.js';
import { lineLoad } from '../helpers/load.js';
import { Pane } from '../helpers/tmux.js';
import { sleep } from '../helpers/wait.js';

const SLOW_TAP = join(FIXTURES, 'runtime', 'slow-tap.mjs');
const CHAT = join(FIXTURES, 'runtime', 'chat-handler.mjs');

/** Worker rows of a frame: `  ID  PID  STATE  UP  REQ/S  ACTIVE  MEMORY`. */
const WORKER_ROW = /^ {2}(\d+) +(\d+) {2}(\w+) +\S+ +([\d.]+|-) +(\d+|-) +([\d.]+) MiB$/;
const rows = (lines: string[]) => lines.map((l) => WORKER_ROW.exec(l.trimEnd())).filter((m) => m !== null);
/** The total row's REQ/S (undefined for `-`: the first frame), ACTIVE and MEMORY (MiB), if it is on the screen. */
function totals(lines: string[]): { rate: number | undefined; active: number; memory: number } | undefined {
  const m = lines.map((l) => /^ {2}total +([\d.]+|-) +(\d+) +([\d.]+) MiB\s*$/.exec(l)).find((x) => x);
  return m ? { rate: m[1] === '-' ? undefined : Number(m[1]), active: Number(m[2]), memory: Number(m[3]) } : undefined;
}
const totalRate = (lines: string[]) => totals(lines)?.rate;
/** CALLS/S and MEAN µs (undefined for `-`: nothing timed since the last refresh) of a plugin's hook row. */
function hookRow(lines: string[], plugin: string, hook: string): { rate: number; mean: number | undefined } | undefined {
  const m = lines.map((l) => new RegExp(`^ {2}${plugin} +${hook} +([\\d.]+) +([\\d.]+|-)\\s*$`).exec(l)).find((x) => x);
  return m ? { rate: Number(m[1]), mean: m[2] === '-' ? undefined : Number(m[2]) } : undefined;
}

async function serve(t: ExecutionContext): Promise<SsProcess> {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2', '--plugin', SLOW_TAP]);
  return ss;
}

/** `ss top` in a pane of its own; its exit code lands in EXIT, and the shell then stays to keep the pane (and its terminal settings) open. */
function topInPane(t: ExecutionContext, args: string[]): { pane: Pane; exitFile: string; sttyFile: string } {
  const dir = tempDir(t, 'top');
  const exitFile = join(dir, 'exit');
  const sttyFile = join(dir, 'stty');
  const ss = [process.execPath, SS_BIN, 'top', ...args].map((a) => `'${a}'`).join(' ');
  const pane = new Pane(t, dir, `sh -c "${ss}; echo \\$? > '${exitFile}'; stty -a > '${sttyFile}'; exec sleep 120"`);
  return { pane, exitFile, sttyFile };
}

/** The `ss top` process under the pane's shell (shells may or may not fork for `sh -c`). */
function topPid(shell: number): number {
  const queue = [shell];
  for (let i = 0; i < queue.length && i < 20; i++) {
    const pid = queue[i]!;
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('top')) return pid;
    queue.push(...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  }
  throw new Error(`no ss top under pid ${shell}`);
}

/** The exit code written by the pane's shell, once there. */
const exitCode = (file: string) => eventually(() => (existsSync(file) && readFileSync(file, 'utf8').endsWith('\n') ? Number(readFileSync(file, 'utf8')) : undefined), 'ss top to exit', 20_000);

/** The terminal as the shell had it: main screen, cursor shown, line editing and echo back on. */
async function restored(t: ExecutionContext, pane: Pane, sttyFile: string): Promise<void> {
  const stty = await eventually(() => (existsSync(sttyFile) && readFileSync(sttyFile, 'utf8').includes('icanon') ? readFileSync(sttyFile, 'utf8') : undefined), 'stty -a', 10_000);
  t.regex(stty, /(^|\s)icanon(\s|$)/, 'raw mode is off');
  t.regex(stty, /(^|\s)echo(\s|$)/);
  t.is(pane.show('#{alternate_on}'), '0', 'back on the main screen');
  t.is(pane.show('#{cursor_flag}'), '1', 'the cursor is shown');
}

test.serial('ss top --once: one plain frame with both workers, requests per second under load, the plugin\'s hook time; 80 columns', async (t) => {
  const ss = await serve(t);
  const load = lineLoad(ss.port);
  t.teardown(() => load.stop());
  await eventually(() => (load.replies() > 100 ? true : undefined), 'the load to run', 20_000);
  const r = await runSs(['top', '--once', '--pid', String(ss.pid)]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  t.false(r.stdout.includes('\x1b'), 'no escape codes');
  const lines = r.stdout.trimEnd().split('\n');
  for (const l of lines) t.true(l.length <= 80, `within 80 columns: ${JSON.stringify(l)}`);
  t.regex(lines[0]!, new RegExp(`^ss top  pid ${ss.pid}  line  running  up \\d+s  version \\d+\\.\\d+\\.\\d+  every 1s$`));
  t.true(lines.some((l) => /^server line {2}127\.0\.0\.1:\d+ {2}workers 2\/2 {2}restarts 0$/.test(l)), r.stdout);
  const workers = rows(lines);
  const pids = (await ssInfo(ss.pid)).workers.map((w: { pid: number }) => String(w.pid)).sort();
  t.deepEqual(workers.map((m) => m[2]).sort(), pids, 'both worker pids');
  t.true(workers.every((m) => m[3] === 'running'));
  t.true(totalRate(lines)! > 0, r.stdout);
  const tap = hookRow(lines, 'slow-tap', 'preRequest');
  t.truthy(tap, r.stdout);
  t.true(tap!.rate > 0);
  // A mean needs a timed call (one in 64) in the interval: on a starved machine a 1 s
  // interval may have none ('-'); a frame over up to two more seconds has some.
  let mean = tap!.mean;
  for (let tries = 0; mean === undefined && tries < 2; tries++) {
    const again = await runSs(['top', '--once', '--interval', '2', '--pid', String(ss.pid)]);
    mean = hookRow(again.stdout.trimEnd().split('\n'), 'slow-tap', 'preRequest')?.mean;
  }
  t.true(mean! >= 40, `the tap busy-waits 50 µs: ${mean}`);
  t.truthy(hookRow(lines, '\\(handler\\)', 'request'), 'the handler\'s row');
});

test('ss top --once: a server with channels shows its channels, subscribers, and messages and pushes per second', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--handler', CHAT]);
  const [a, b] = await Promise.all([Client.open(ss.port), Client.open(ss.port)]);
  t.teardown(() => { a.destroy(); b.destroy(); });
  for (const [c, cmd, reply] of [[a, 'join r1', 'joined r1'], [b, 'join r1', 'joined r1'], [b, 'watch r*', 'watching r*']] as const) {
    c.send(`${cmd}\n`);
    t.deepEqual(await c.lines(1, 10_000), [reply]);
  }
  // A message every 50 ms while ss top looks: each pushed to a by name, to b by name and by pattern.
  let saying = true;
  const says = (async () => {
    for (let i = 0; saying && i < 1000; i++) {
      a.send(`say r1 m${i}\n`);
      await sleep(50);
    }
  })();
  const r = await runSs(['top', '--once', '--pid', String(ss.pid)]);
  saying = false;
  await says;
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const head = lines.indexOf('  CHANNELS  PATTERNS  SUBSCRIBERS     PUB/S   DELIV/S    PUSH/S  DROPPED  SLOW');
  t.true(head > 0, r.stdout);
  const m = /^ +(\d+) +(\d+) +(\d+) +([\d.]+) +([\d.]+) +([\d.]+) +(\d+) +(\d+)$/.exec(lines[head + 1]!);
  t.truthy(m, r.stdout);
  t.deepEqual(m!.slice(1, 4).map(Number), [1, 1, 2], 'one channel, one pattern, two subscribers');
  const [pub, deliv, push] = m!.slice(4, 7).map(Number);
  t.true(pub! > 0 && deliv! > 0 && push! > 0, r.stdout);
  t.deepEqual(m!.slice(7).map(Number), [0, 0], 'nothing dropped, no slow consumer');
});

test('ss top: one line naming the mistake, exit 2', async (t) => {
  const noTerminal = await runSs(['top', '--pid', String(process.pid)]);
  t.is(noTerminal.code, 2);
  t.is(noTerminal.stderr, 'ss: not a terminal: use --once to print one frame\n');
  for (const bad of ['0', 'abc', '-1', '99999']) {
    const r = await runSs(['top', '--once', `--interval=${bad}`, '--pid', String(process.pid)]);
    t.is(r.code, 2, bad);
    t.is(r.stderr, `ss: invalid --interval "${bad}": expected seconds from 0.1 to 3600\n`);
  }
  // A value that starts with '-' is the flag's value, not another flag, as for the settings.
  const spaced = await runSs(['top', '--once', '--interval', '-1', '--pid', String(process.pid)]);
  t.is(spaced.code, 2);
  t.is(spaced.stderr, 'ss: invalid --interval "-1": expected seconds from 0.1 to 3600\n');
  const unknown = await runSs(['top', '--once', '--bogus']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^ss: unknown option --bogus for ss top .*\n$/);
});

test.serial('ss top in a terminal: req/s rises under load and falls back to 0, the slow plugin shows, q quits with exit 0 and the terminal restored', async (t) => {
  const ss = await serve(t);
  const { pane, exitFile, sttyFile } = topInPane(t, ['--pid', String(ss.pid)]);
  const first = await eventually(() => (rows(pane.screen()).length === 2 ? pane.screen() : undefined), 'two worker rows on the screen', 20_000);
  t.regex(first[0]!, new RegExp(`^ss top  pid ${ss.pid}  line  running`));
  t.is(pane.show('#{alternate_on}'), '1', 'on the alternate screen');
  t.is(pane.show('#{cursor_flag}'), '0', 'the cursor hidden');

  const load = lineLoad(ss.port);
  t.teardown(() => load.stop());
  const busy = await eventually(() => {
    const screen = pane.screen();
    const tap = hookRow(screen, 'slow-tap', 'preRequest');
    return (totalRate(screen) ?? 0) > 0 && (tap?.rate ?? 0) > 0 && tap?.mean !== undefined ? screen : undefined;
  }, 'req/s above 0 under load, and the tap timed', 20_000);
  t.true(hookRow(busy, 'slow-tap', 'preRequest')!.mean! >= 40, busy.join('\n'));
  t.true(busy.every((l) => l.length <= 80));

  load.stop();
  const idle = await eventually(() => (totalRate(pane.screen()) === 0 ? pane.screen() : undefined), 'req/s back to 0', 20_000);
  t.deepEqual(hookRow(idle, 'slow-tap', 'preRequest'), { rate: 0, mean: undefined }, 'no call, none timed, since the last refresh');

  pane.keys('q');
  t.is(await exitCode(exitFile), 0);
  await restored(t, pane, sttyFile);
});

test.serial('ss top in a terminal: hook times are of the last refresh: a tap that turns slow under load shows slow within a couple of refreshes, then fast again', async (t) => {
  // One worker: the `slow-tap N` request that sets the tap's cost reaches the one serving the load.
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--plugin', SLOW_TAP]);
  t.is(await ask(ss.port, 'slow-tap 0'), 'slow-tap 0');
  const load = lineLoad(ss.port, { maxMs: 120_000 });
  t.teardown(() => load.stop());
  const { pane } = topInPane(t, ['--pid', String(ss.pid), '--interval', '0.5']);
  const mean = () => hookRow(pane.screen(), 'slow-tap', 'preRequest')?.mean;
  // Fast long enough that a mean since start would lag far behind: 60000 calls, over 900 of them timed.
  await eventually(() => (load.replies() >= 60_000 && (mean() ?? Infinity) < 20 ? true : undefined), 'the tap fast on the screen', 60_000);
  t.is(await ask(ss.port, 'slow-tap 1000'), 'slow-tap 1000');
  const switched = load.replies();
  await eventually(() => ((mean() ?? 0) > 200 ? true : undefined), 'the tap slow on the screen', 30_000);
  // At 1 ms a request the load gets about 1000 a second, so two refreshes are about 1000 requests;
  // a mean since start would pass 200 µs only after some 15000 (a quarter of the fast calls).
  const slowCalls = load.replies() - switched;
  t.true(slowCalls < 5000, `shown slow after ${slowCalls} slow calls`);
  t.is(await ask(ss.port, 'slow-tap 0'), 'slow-tap 0');
  await eventually(() => ((mean() ?? Infinity) < 20 ? true : undefined), 'the tap fast again on the screen', 30_000);
});

test.serial('ss top in a terminal: ACTIVE counts the connections held open and drops back as they close; MEMORY is each worker\'s resident size', async (t) => {
  const ss = await serve(t);
  const { pane } = topInPane(t, ['--pid', String(ss.pid), '--interval', '0.5']);
  await eventually(() => (totals(pane.screen())?.active === 0 ? true : undefined), 'no connection active', 20_000);
  // Five connections, each answered once (so a worker has it, not a listen backlog), then kept open.
  const held = await Promise.all(Array.from({ length: 5 }, () => Client.open(ss.port)));
  t.teardown(() => { for (const c of held) c.destroy(); });
  await Promise.all(held.map(async (c) => { c.send('hi\n'); await c.lines(1, 10_000); }));
  const busy = await eventually(() => (totals(pane.screen())?.active === 5 ? pane.screen() : undefined), 'ACTIVE 5 in the total', 20_000);
  const workers = rows(busy);
  t.is(workers.length, 2, busy.join('\n'));
  t.is(workers.reduce((n, m) => n + Number(m[5]), 0), 5, 'the workers\' ACTIVE add up');
  for (const m of workers) {
    // The resident size the kernel reports for that pid now, within a generous margin (it moves a little between readings).
    const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${m[2]}/status`, 'utf8'))![1]);
    const mib = kib / 1024;
    t.true(Number(m[6]) > 5 && Number(m[6]) > mib / 2 && Number(m[6]) < mib * 2, `worker ${m[1]}: ${m[6]} MiB shown, ${mib.toFixed(1)} MiB resident`);
  }
  t.true(Math.abs(totals(busy)!.memory - workers.reduce((n, m) => n + Number(m[6]), 0)) <= 0.2, 'the total is their sum');
  for (const c of held) c.destroy();
  await eventually(() => (totals(pane.screen())?.active === 0 ? true : undefined), 'ACTIVE back to 0', 20_000);
  pane.keys('q');
});

test('ss top in a terminal: Ctrl-C quits with 0, SIGTERM with 143, the server going away with 1 and the reason; each restores the terminal', async (t) => {
  const ss = await serve(t);
  const ctrlC = topInPane(t, ['--pid', String(ss.pid)]);
  await eventually(() => (rows(ctrlC.pane.screen()).length === 2 ? true : undefined), 'the first frame', 20_000);
  ctrlC.pane.keys('C-c');
  t.is(await exitCode(ctrlC.exitFile), 0);
  await restored(t, ctrlC.pane, ctrlC.sttyFile);

  const term = topInPane(t, ['--pid', String(ss.pid), '--interval', '0.5']);
  await eventually(() => (rows(term.pane.screen()).length === 2 ? true : undefined), 'the first frame', 20_000);
  process.kill(topPid(Number(term.pane.show('#{pane_pid}'))), 'SIGTERM');
  t.is(await exitCode(term.exitFile), 143);
  await restored(t, term.pane, term.sttyFile);

  const gone = topInPane(t, ['--pid', String(ss.pid)]);
  await eventually(() => (rows(gone.pane.screen()).length === 2 ? true : undefined), 'the first frame', 20_000);
  await ss.stop();
  t.is(await exitCode(gone.exitFile), 1);
  await restored(t, gone.pane, gone.sttyFile);
  t.true(gone.pane.screen().some((l) => l.startsWith(`ss: server ${ss.pid} went away: `)), gone.pane.screen().join('\n'));
});
