import test from 'ava';
import { Client } from '../helpers/client.js';
import { launchSs } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

// What clients send reaches the log (a peer's address from a PROXY header, a message in an
// error): pretty lines escape control characters as JSON does, so none forges a line or acts
// on the operator's terminal.

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const NO_COLOUR_ENV = { FORCE_COLOR: undefined, NO_COLOR: '1', CI: undefined };

/** A v2 PROXY header over AF_UNIX (stream) from `src` to `dst`, each a 108-byte sun_path. */
function v2Unix(src: Buffer, dst: Buffer): Buffer {
  const block = Buffer.alloc(216);
  src.copy(block, 0, 0, 107);
  dst.copy(block, 108, 0, 107);
  const fixed = Buffer.from([0x21, 0x31, 0, 0]);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIG, fixed, block]);
}

async function waitFor(text: () => string, re: RegExp, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!re.test(text())) {
    if (Date.now() > until) throw new Error(`no ${re} within ${timeoutMs} ms in:\n${text()}`);
    await sleep(50);
  }
}

test('--log-format pretty: a PROXY v2 unix path holding a newline and an ANSI escape is logged escaped, forging no line', async (t) => {
  const ss = launchSs(t, ['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', '--proxy-protocol', 'v2', '--max-line', '4',
    '--log-format', 'pretty'], { env: NO_COLOUR_ENV });
  await waitFor(() => ss.stderr, /serving line/);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(ss.stderr)![1]);
  const forged = '[2026-01-01 00:00:00] [1] INFO  forged line';
  const path = Buffer.from(`/tmp/a\n${forged}\x1b[31m\r\x9b2J`);
  const c = await Client.open(port);
  c.send(Buffer.concat([v2Unix(path, Buffer.from('/tmp/b')), Buffer.from('too long for four\n')]));
  await c.waitClose(10_000); // bad input: the line is too long, logged with the peer
  await waitFor(() => ss.stderr, /bad input/);
  const lines = ss.stderr.split('\n');
  t.false(lines.some((l) => l.startsWith(forged)), ss.stderr);
  t.false(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(ss.stderr), `no raw control character: ${JSON.stringify(ss.stderr)}`);
  const bad = lines.find((l) => l.includes('bad input'))!;
  t.true(bad.includes(`(unix:/tmp/a\\n${forged}\\u001b[31m\\r\\u009b2J)`), bad);
});
