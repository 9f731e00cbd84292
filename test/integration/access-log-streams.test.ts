import test from 'ava';
import { Client } from '../helpers/client.js';
import { eventually, startSs, type SsProcess } from '../helpers/ss.js';
import { readyPids } from '../helpers/workers.js';

// With --access-log - the access lines go to stdout and the server's log stays on stderr, as
// gunicorn keeps --access-logfile apart: a collector reading JSON logs on stderr never meets an
// access line, and `--access-log-format json` makes the access log one a collector reads too.

const DEFAULT_LINE = /^\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] (\S+) (\d+) (\d+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$/;

const nonEmpty = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Every line of `text` as a JSON object; throws naming the first that is not one. */
function jsonLines(text: string): Record<string, unknown>[] {
  return nonEmpty(text).map((l) => {
    const v: unknown = JSON.parse(l);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`not a JSON object: ${l}`);
    return v as Record<string, unknown>;
  });
}

/** A client that sends `data`, reads `replyBytes`, and closes. */
async function exchange(port: number, data: string | Buffer, replyBytes: number): Promise<Client> {
  const c = await Client.open(port);
  c.send(data);
  await c.read(replyBytes, 10_000);
  c.end();
  await c.waitClose(10_000);
  return c;
}

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 PROXY header over AF_UNIX (stream) from the path `src`: 16 bytes, then two 108-byte sun_paths. */
function v2Unix(src: string): Buffer {
  const block = Buffer.alloc(216);
  block.write(src, 0, 107);
  block.write('/run/app.sock', 108);
  const fixed = Buffer.from([0x21, 0x31, 0, 0]);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIG, fixed, block]);
}

/** Stops `ss` and checks what a collector on stderr would see: JSON objects only, none of them an access line. */
async function stopAndCheckStderr(t: import('ava').ExecutionContext, ss: SsProcess): Promise<void> {
  t.is((await ss.stop('SIGTERM')).code, 0);
  const logs = jsonLines(ss.stderr);
  t.true(logs.some((l) => l.msg === 'stopped'), ss.stderr);
  t.false(logs.some((l) => 'bytes_in' in l || l.kind === 'conn' || l.kind === 'req'), ss.stderr);
}

test('no terminal, JSON logs, --workers 2: stderr holds only JSON log lines, stdout only the access lines', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '2', '--max-line', '4']);
  t.true(ss.logs.length > 0, 'the log is JSON (no terminal)');
  const clean = await Promise.all(Array.from({ length: 8 }, () => exchange(ss.port, 'hi\nyo\n', 6)));
  const bad = await Client.open(ss.port);
  bad.send('toolong\n'); // logged on stderr, naming the client, as its access line is written
  await bad.waitClose(10_000);
  const ports = [...clean.map((c) => c.localPort!), bad.localPort!];
  const lines = () => nonEmpty(ss.stdout).map((l) => {
    const m = DEFAULT_LINE.exec(l);
    if (!m) throw new Error(`not an access line on stdout: ${JSON.stringify(l)}`);
    return { peer: m[1]!, requests: m[5]!, reason: m[9]! };
  });
  await eventually(() => (ports.every((p) => lines().some((l) => l.peer === `127.0.0.1:${p}`)) ? true : undefined), 'every access line on stdout', 20_000);
  await stopAndCheckStderr(t, ss);
  const all = lines();
  for (const c of clean) t.like(all.find((l) => l.peer === `127.0.0.1:${c.localPort}`), { requests: '2', reason: 'clean' });
  t.like(all.find((l) => l.peer === `127.0.0.1:${bad.localPort}`), { requests: '0', reason: 'bad_input' });
  t.is(all.length, ports.length, ss.stdout);
});

test('--access-log-format json, lines both, --workers 2: one object per connection and per request; a PROXY unix path with a quote and a backslash reads back as sent', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '2', '--proxy-protocol', 'v2',
    '--access-log-format', 'json', '--access-log-lines', 'both']);
  const t0 = Date.now();
  const paths = Array.from({ length: 6 }, (_, i) => `/tmp/a "q" \\b\\ ${i}\n.sock`);
  await Promise.all(paths.map((p) => exchange(ss.port, Buffer.concat([v2Unix(p), Buffer.from('one\ntwo\n')]), 8)));
  const mine = (path: string) => jsonLines(ss.stdout).filter((l) => l.peer === `unix:${path}`);
  await eventually(() => (paths.every((p) => mine(p).length === 3) ? true : undefined), 'three lines of every client on stdout', 20_000);
  await stopAndCheckStderr(t, ss);
  t.is(jsonLines(ss.stdout).length, paths.length * 3, ss.stdout); // and each line parsed whole: none interleaved
  for (const path of paths) {
    const [r1, r2, c] = mine(path);
    const worker = c!.worker as number;
    t.true(worker === 1 || worker === 2, String(worker));
    t.deepEqual(readyPids(ss, worker).slice(-1), [c!.pid]);
    const shared = { peer: `unix:${path}`, conn: c!.conn, worker, pid: c!.pid, server: 'line' };
    t.like(r1, { ...shared, kind: 'req', seq: 1, requests: null, bytes_in: null, bytes_out: null, reason: null });
    t.like(r2, { ...shared, kind: 'req', seq: 2, requests: null, bytes_in: null, bytes_out: null, reason: null });
    t.like(c, { ...shared, kind: 'conn', seq: null, requests: 2, bytes_in: 232 + 8, bytes_out: 8, reason: 'clean' });
    t.is(typeof c!.conn, 'number');
    for (const l of [r1, r2, c]) {
      t.true(typeof l!.duration === 'number' && l!.duration >= 0, String(l!.duration));
      const at = Date.parse(l!.time as string);
      t.true(at >= t0 - 1000 && at <= Date.now() && (l!.time as string).endsWith('Z'), String(l!.time));
    }
  }
  // The raw line escapes them as JSON does: the quote as \", the backslash as \\, the newline as \n.
  t.true(ss.stdout.includes(String.raw`"peer":"unix:/tmp/a \"q\" \\b\\ 0\n.sock"`), ss.stdout);
});

test('--access-log-format json, lines request, --workers 2: one object per request, none per connection', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--plugin', 'access-log', '--workers', '2',
    '--access-log-format', 'json', '--access-log-lines', 'request']);
  const c = await exchange(ss.port, 'a\nb\nc\n', 6);
  const peer = `127.0.0.1:${c.localPort}`;
  await eventually(() => (jsonLines(ss.stdout).filter((l) => l.peer === peer).length >= 3 ? true : undefined), 'three request lines', 20_000);
  await stopAndCheckStderr(t, ss);
  const lines = jsonLines(ss.stdout);
  t.deepEqual(lines.map((l) => [l.kind, l.seq, l.peer]), [['req', 1, peer], ['req', 2, peer], ['req', 3, peer]]);
});
