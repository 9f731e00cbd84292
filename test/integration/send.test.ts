import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { rawServer, closedPort } from '../helpers/raw-server.js';
import { REPO, SS_BIN, runSs, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

test('ss send: a round trip with each built-in protocol, replies printed raw one per line', async (t) => {
  for (const plugin of ['echo', 'line', 'netstring']) {
    const ss = await startSs(t, ['--plugin', plugin]);
    const r = await runSs(['send', '--plugin', plugin, '--bind', `127.0.0.1:${ss.port}`, `hi ${plugin}`]);
    t.is(r.stderr, '', plugin);
    t.is(r.code, 0, plugin);
    t.is(r.stdout, `hi ${plugin}\n`, plugin);
    await ss.stop();
  }
});

test('ss send with echo (no framing): several messages go one at a time, each reply printed on its own line', async (t) => {
  const ss = await startSs(t, ['--plugin', 'echo']);
  const words = Array.from({ length: 20 }, (_, i) => `word${i}`);
  const r = await runSs(['send', '--plugin', 'echo', '--bind', `127.0.0.1:${ss.port}`, 'hello', 'world', ...words]);
  t.is(r.stderr, '');
  t.is(r.code, 0);
  t.is(r.stdout, ['hello', 'world', ...words, ''].join('\n'));
});

test('ss send: 100 messages pipelined, replies in order', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--handler', './test/fixtures/runtime/handler.ts']);
  const messages = Array.from({ length: 100 }, (_, i) => `slow:${100 - i}:reply ${i}`);
  const r = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${ss.port}`, ...messages]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.split('\n'), [...Array.from({ length: 100 }, (_, i) => `reply ${i}`), '']);
});

test('ss send --json prints one JSON value per line: text, or base64 when not UTF-8', async (t) => {
  const port = await rawServer(t, (socket, chunk) => {
    // A line server of its own: "bin" is answered with bytes that are not UTF-8.
    const replies = chunk.toString().split('\n').filter((l) => l !== '').map((l) => (l === 'bin' ? Buffer.from([0xff, 0xfe, 0x0a]) : Buffer.from(`${l}\n`)));
    socket.write(Buffer.concat(replies));
  });
  const r = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${port}`, '--json', 'héllo', 'bin']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `"héllo"\n{"base64":"//4="}\n`);
});

test('ss send reads messages from stdin, one per line, when none are given', async (t) => {
  const ss = await startSs(t, ['--plugin', 'netstring']);
  const child = spawn(process.execPath, [SS_BIN, 'send', '--plugin', 'netstring', '--bind', `127.0.0.1:${ss.port}`], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  t.teardown(() => { clearTimeout(timer); if (child.exitCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  child.stdin.end('first line\nsecond line\n');
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.is(stderr, '');
  t.is(code, 0);
  t.is(stdout, 'first line\nsecond line\n');
});

test('ss send over a unix socket', async (t) => {
  const path = join(tempDir(t, 'send-unix'), 's.sock');
  await startSs(t, ['--plugin', 'line', '--bind', `unix:${path}`]);
  const r = await runSs(['send', '--plugin', 'line', '--bind', `unix:${path}`, 'via unix']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'via unix\n');
});

test('ss send: connection refused exits 1 with one line', async (t) => {
  const port = await closedPort();
  const r = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${port}`, 'x']);
  t.is(r.code, 1);
  t.is(r.stderr, `ss: cannot connect to 127.0.0.1:${port}: connection refused\n`);
  t.is(r.stdout, '');
});

test('ss send: a server closing mid-reply exits 1 with one line', async (t) => {
  const port = await rawServer(t, (socket) => socket.end('5:hel'));
  const r = await runSs(['send', '--plugin', 'netstring', '--bind', `127.0.0.1:${port}`, 'a', 'b']);
  t.is(r.code, 1);
  t.is(r.stderr, 'ss: connection closed by the server with 2 request(s) unanswered\n');
});

test('ss send: no reply within --reply-timeout exits 1 with one line', async (t) => {
  const port = await rawServer(t, () => undefined);
  const started = Date.now();
  const r = await runSs(['send', '--plugin', 'line', '--bind', `127.0.0.1:${port}`, '--reply-timeout', '300', 'x']);
  t.true(Date.now() - started < 10_000);
  t.is(r.code, 1);
  t.is(r.stderr, `ss: no reply from 127.0.0.1:${port} within 300 ms\n`);
});

test('ss send usage errors exit 2 with one line naming the problem', async (t) => {
  const noPlugin = await runSs(['send', 'x'], { cwd: tempDir(t, 'send-usage') });
  t.is(noPlugin.code, 2);
  t.regex(noPlugin.stderr, /^ss: no protocol: name a protocol plugin with --plugin .*\n$/);
  const badFlag = await runSs(['send', '--plugin', 'line', '--bogus', 'x']);
  t.is(badFlag.code, 2);
  t.is(badFlag.stderr, 'ss: unknown option --bogus for ss send (see ss send --help)\n');
  const badTimeout = await runSs(['send', '--plugin', 'line', '--reply-timeout', 'soon', 'x']);
  t.is(badTimeout.code, 2);
  t.is(badTimeout.stderr, 'ss: invalid --reply-timeout "soon": expected milliseconds, 0 or more\n');
  const negative = await runSs(['send', '--plugin', 'line', '--reply-timeout', '-5', 'x']);
  t.is(negative.code, 2);
  t.is(negative.stderr, 'ss: invalid --reply-timeout "-5": expected milliseconds, 0 or more\n');
  const badBind = await runSs(['send', '--plugin', 'line', '--bind', 'a:b:c', 'x']);
  t.is(badBind.code, 2);
  t.regex(badBind.stderr, /^ss: invalid --bind .*\n$/);
});
