import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/assert.js';
import { Client } from '../helpers/client.js';
import { launchSs, REPO, runSs, SS_BIN, startSs, type SsProcess } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';
import { sleep } from '../helpers/wait.js';

// How ss logs, seen through the real process: JSON lines on a pipe, pretty lines on a terminal
// (log_format auto), either when asked for.

const PRETTY_LISTENING = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[\d+\] INFO +listening on 127\.0\.0\.1:\d+/m;
const ESC = /\x1b\[/;
// CI too: Node gives a terminal 2 colours when CI is set (a CI log is seldom a colour terminal).
const NO_COLOUR_ENV = { FORCE_COLOR: undefined, NO_COLOR: undefined, CI: undefined };

/** Resolve once `text()` matches `re` (rejects after `timeoutMs`). */
async function waitFor(text: () => string, re: RegExp, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!re.test(text())) {
    if (Date.now() > until) throw new Error(`no ${re} within ${timeoutMs} ms in:\n${text()}`);
    await sleep(50);
  }
}

/** `ss serve --plugin line` on a pipe with these arguments, stopped by its pid at teardown, once it serves. */
async function servePiped(t: ExecutionContext, args: string[], env: Record<string, string | undefined>): Promise<SsProcess> {
  const ss = launchSs(t, ['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', ...args], { env });
  await waitFor(() => ss.stderr, /serving line/);
  return ss;
}

test('stderr a pipe, log_format unset: JSON lines as always', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line'], { env: NO_COLOUR_ENV });
  const lines = ss.stderr.trim().split('\n');
  t.true(lines.length >= 2);
  for (const line of lines) t.notThrows(() => JSON.parse(line), line);
  t.like(ss.logs.find((l) => l.msg.startsWith('listening on')), { level: 30, name: 'line', address: `127.0.0.1:${ss.port}` });
});

test('--log-format pretty on a pipe: pretty lines, no JSON, no colour', async (t) => {
  const ss = await servePiped(t, ['--log-format', 'pretty'], NO_COLOUR_ENV);
  t.regex(ss.stderr, PRETTY_LISTENING);
  t.regex(ss.stderr, /^\[[^\]]+\] \[(\d+)\] INFO  serving line with 1 worker \(arbiter pid \1\) pids=\[\d+\]$/m, 'workers=1 is said once, by the message');
  t.false(ss.stderr.split('\n').some((l) => l.startsWith('{')), ss.stderr);
  t.false(ESC.test(ss.stderr), 'no colour escapes');
});

test('--log-format pretty with FORCE_COLOR=1: coloured even on a pipe', async (t) => {
  const ss = await servePiped(t, ['--log-format', 'pretty'], { FORCE_COLOR: '1', NO_COLOR: undefined });
  t.regex(ss.stderr, /^\x1b\[2m\[[^\]]+\]\x1b\[22m \[\d+\] \x1b\[32mINFO \x1b\[39m listening on 127\.0\.0\.1:\d+/m);
});

/**
 * `ss serve --plugin line` in a pseudo-terminal (`script`): resolves with what the terminal
 * shows once ss serves. ss is stopped by its arbiter pid (from its own log) at teardown, then
 * `script`, if it is still there.
 */
async function serveInPty(t: ExecutionContext, args: string[], env: Record<string, string | undefined>): Promise<string> {
  const quoted = [process.execPath, SS_BIN, 'serve', '--plugin', 'line', '--bind', '127.0.0.1:0', ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`);
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const key of Object.keys(childEnv)) if (key.startsWith('SS_')) delete childEnv[key];
  const script = spawn('script', ['-qfec', `exec ${quoted.join(' ')}`, '/dev/null'], { cwd: REPO, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  script.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  script.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
  const closed = new Promise<void>((resolve) => script.once('close', () => resolve()));
  t.teardown(async () => {
    const arbiter = /arbiter pid (\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''))?.[1];
    const target = arbiter ? Number(arbiter) : script.pid!;
    try { process.kill(target, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(script.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
    await closed;
    clearTimeout(timer);
    script.stdin.destroy();
  });
  await waitFor(() => out, /serving line/);
  return out.replaceAll('\r', '');
}

test('in a terminal, log_format unset: pretty lines (auto), coloured on a colour terminal', async (t) => {
  const out = await serveInPty(t, [], { ...NO_COLOUR_ENV, TERM: 'xterm-256color' });
  t.regex(out.replace(/\x1b\[[0-9;]*m/g, ''), PRETTY_LISTENING);
  t.regex(out, /\x1b\[32mINFO \x1b\[39m/);
  t.false(out.split('\n').some((l) => l.startsWith('{')), out);
});

test('in a terminal with NO_COLOR: pretty lines without colour', async (t) => {
  const out = await serveInPty(t, [], { FORCE_COLOR: undefined, NO_COLOR: '1', TERM: 'xterm-256color' });
  t.regex(out, PRETTY_LISTENING);
  t.false(ESC.test(out), out);
});

test('in a terminal, --log-format json: JSON lines', async (t) => {
  const out = await serveInPty(t, ['--log-format', 'json'], { ...NO_COLOUR_ENV, TERM: 'xterm-256color' });
  const lines = out.trim().split('\n');
  t.true(lines.length >= 2);
  for (const line of lines) t.notThrows(() => JSON.parse(line), line);
  t.true(lines.some((l) => (JSON.parse(l) as { msg: string }).msg.startsWith('listening on 127.0.0.1:')));
});

test('--log-format bogus: exit 2, one line naming --log-format and its choices', async (t) => {
  const r = await runSs(['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', '--log-format', 'bogus']);
  assertOneLineError(t, r, 2, ['--log-format', 'bogus', 'auto, pretty, json']);
});

test('--name names the server in its logs', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--name', 'edge-7']);
  const serving = ss.logs.find((l) => l.msg.startsWith('serving'))!;
  t.is(serving.msg, `serving edge-7 with 1 worker (arbiter pid ${ss.pid})`);
  t.true(ss.logs.every((l) => l.name === 'edge-7'));
});

test('--log-level debug shows a keep-alive close; --log-level warn hides info lines', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--keep-alive', '0.3', '--log-level', 'debug']);
  const c = await Client.open(ss.port);
  await c.waitClose();
  const line = await ss.waitForLog((l) => /idle for 0\.3s; closed/.test(l.msg));
  t.is(line.level, 20);

  const path = join(tempDir(t, 'quiet'), 'q.sock');
  const quiet = launchSs(t, ['serve', '--plugin', 'line', '--bind', `unix:${path}`, '--log-level', 'warn']);
  let client: Client | undefined;
  for (let i = 0; i < 100 && !client; i++) { // until it accepts (≤ 10 s)
    client = await Client.open(path).catch(() => undefined);
    if (!client) await sleep(100);
  }
  client!.send('still served\n');
  // The socket accepts before a worker serves it: a busy machine may take a while to start one.
  t.deepEqual(await client!.lines(1, 20_000), ['still served']);
  client!.destroy();
  t.is((await quiet.stop()).code, 0);
  t.is(quiet.logs.filter((l) => l.level < 40).length, 0, quiet.stderr);
});

test('a flood of bad connections is logged at most 10 lines a second, then a count of what was suppressed; others are served', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring', '--workers', '0']);
  const started = Date.now();
  for (let batch = 0; batch < 4; batch++) {
    const clients = await Promise.all(Array.from({ length: 50 }, () => Client.open(ss.port)));
    for (const c of clients) c.send('x');
    await Promise.all(clients.map((c) => c.waitClose()));
  }
  const seconds = Math.ceil((Date.now() - started) / 1000);
  const summary = await ss.waitForLog((l) => /suppressed/.test(l.msg), 3000);
  await sleep(1200); // any later summary
  const logged = ss.logs.filter((l) => /bad input/.test(l.msg)).length;
  const suppressed = ss.logs.filter((l) => /suppressed/.test(l.msg))
    .reduce((n, l) => n + Number(/^(\d+) /.exec(l.msg)?.[1] ?? NaN), 0);
  t.regex(summary.msg, /^\d+ more connection log line\(s\) suppressed \(at most 10 a second\)$/);
  t.true(logged <= 10 * (seconds + 1), `${logged} lines in ${seconds} s`);
  t.is(logged + suppressed, 200, 'every bad connection is logged or counted');
  const c = await Client.open(ss.port);
  c.send('2:ok,');
  t.is(String(await c.read(5)), '2:ok,');
  c.destroy();
});
