import test from 'ava';
import { execFile } from 'node:child_process';
import { Client } from '../helpers/client.js';
import { startSs, type SsProcess } from '../helpers/ss.js';
import { sleep } from '../helpers/wait.js';

const HANDLER = './test/fixtures/runtime/resp-handler.mjs';
let ss: SsProcess;

test.before(async () => {
  ss = await startSs(['--plugin', 'resp', '--handler', HANDLER]);
});
test.after.always(async () => {
  await ss?.stop();
});

function multibulk(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Send `request` on a fresh connection and read exactly `reply`'s length back. */
async function exchange(request: string | Buffer, reply: string | Buffer): Promise<Buffer> {
  const c = await Client.open(ss.port);
  try {
    c.send(request);
    return await c.read(Buffer.byteLength(reply));
  } finally {
    c.destroy();
  }
}

/** Stock `redis-cli -p PORT ARGS`, its stdout (killed after 5 s). */
function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(ss.port), ...args], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

test('redis-cli one-shot commands: PING, ECHO, SET, GET, a nested reply', async (t) => {
  t.is(await redisCli(['PING']), 'PONG\n');
  t.is(await redisCli(['ECHO', 'hi']), 'hi\n');
  t.is(await redisCli(['SET', 'k', 'v']), 'OK\n');
  t.is(await redisCli(['GET', 'k']), 'v\n');
  t.is(await redisCli(['GET', 'missing']), '\n'); // the null bulk, as redis-cli prints it when not a tty
  t.is(await redisCli(['COUNT', 'a', 'b', 'c']), '3\n');
});

test('multibulk and inline requests, pipelined in one write, answered in order', async (t) => {
  const request = Buffer.concat([multibulk(['PING']), Buffer.from('ECHO "hello world"\r\nPING\n'), multibulk(['ECHO', 'x']), Buffer.from("ARGS a 'b c' \"d\\x41\"\r\n")]);
  const reply = '+PONG\r\n$11\r\nhello world\r\n+PONG\r\n$1\r\nx\r\n*3\r\n$1\r\na\r\n$3\r\nb c\r\n$2\r\ndA\r\n';
  t.is(String(await exchange(request, reply)), reply);
});

test('typed replies: integer, null bulk, null array, nested array, errors', async (t) => {
  const reply = ':2\r\n$-1\r\n*5\r\n:1\r\n+two\r\n*2\r\n$5\r\nthree\r\n$-1\r\n*-1\r\n-ERR inner\r\n' +
    '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n-ERR boom\r\n-ERR unknown command \'nope\'\r\n';
  t.is(String(await exchange('COUNT a b\r\nGET missing\r\nNESTED\r\nFAIL\r\nTHROW\r\nnope\r\n', reply)), reply);
});

test('async replies: a promise of null is the null bulk; order is kept behind slower replies', async (t) => {
  const reply = '$-1\r\n$4\r\nslow\r\n$4\r\nfast\r\n+PONG\r\n';
  t.is(String(await exchange('AGET missing\r\nAECHO slow 60\r\nAECHO fast 0\r\nPING\r\n', reply)), reply);
});

test('empty lines, *0 and *-1 are ignored: no message, no reply', async (t) => {
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n\r\n*0\r\n');
  t.is(String(await c.read(7)), '+PONG\r\n');
  c.send('PING\r\n');
  t.is(String(await c.read(7)), '+PONG\r\n', 'nothing else was answered in between');
});

test('ignored input ending a read does not start --frame-timeout: the idle client is kept', async (t) => {
  const short = await startSs(t, ['--plugin', 'resp', '--handler', HANDLER, '--frame-timeout', '1']);
  const clients = await Promise.all([Client.open(short.port), Client.open(short.port)]);
  t.teardown(() => clients.forEach((c) => c.destroy()));
  const [a, b] = clients as [Client, Client];
  a.send('PING\r\n\r\n');
  b.send('PING\r\n*0\r\n');
  t.is(String(await a.read(7)), '+PONG\r\n');
  t.is(String(await b.read(7)), '+PONG\r\n');
  await sleep(2500);
  t.false(a.closed || b.closed, 'still connected after twice --frame-timeout');
  a.send('PING\r\n');
  b.send('PING\r\n');
  t.is(String(await a.read(7)), '+PONG\r\n');
  t.is(String(await b.read(7)), '+PONG\r\n');
});

test('a request sent one byte at a time is decoded the same', async (t) => {
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  const request = Buffer.concat([multibulk(['ECHO', 'a\r\nb']), Buffer.from('ECHO "c d"\r\n')]);
  for (const byte of request) {
    c.send(Buffer.from([byte]));
    await sleep(2);
  }
  t.is(String(await c.read(19)), '$4\r\na\r\nb\r\n$3\r\nc d\r\n');
});

test('bulk values are binary safe', async (t) => {
  const value = Buffer.from([0, 13, 10, 0xff, 0x24, 0x2a, 10, 13]);
  const reply = Buffer.concat([Buffer.from('$8\r\n'), value, Buffer.from('\r\n')]);
  t.deepEqual(await exchange(multibulk(['ECHO', value]), reply), reply);
});

test('a 1 MiB value is received and sent back whole', async (t) => {
  const value = Buffer.alloc(1024 * 1024, 'v');
  value[0] = 13;
  value[value.length - 1] = 10;
  const reply = Buffer.concat([Buffer.from(':1048576\r\n$1048576\r\n'), value, Buffer.from('\r\n')]);
  const got = await exchange(Buffer.concat([multibulk(['LEN', value]), multibulk(['ECHO', value])]), reply);
  t.true(got.equals(reply));
});

const malformed: [string, string, string][] = [
  ['an inline request over 64 KiB without a newline', 'x'.repeat(64 * 1024 + 100), 'too big inline request'],
  ['a count that is not a number', '*x\r\n', 'invalid multibulk length'],
  ['a count over --proto-max-multibulk-len', '*2147483648\r\n', 'invalid multibulk length'],
  ['a * line over 64 KiB without CRLF', '*' + '1'.repeat(64 * 1024 + 100), 'too big mbulk count string'],
  ['a bulk length that is not a number', '*1\r\n$abc\r\n', 'invalid bulk length'],
  ['a bulk length over --proto-max-bulk-len', '*1\r\n$536870913\r\n', 'invalid bulk length'],
  ['a $ line over 64 KiB without CRLF', '*1\r\n$' + '1'.repeat(64 * 1024 + 100), 'too big bulk count string'],
  ['no $ where a bulk is expected', '*1\r\nX\r\n', "expected '$', got 'X'"],
  ['unbalanced quotes', 'SET k "v\r\n', 'unbalanced quotes in request'],
];

for (const [name, bad, what] of malformed) {
  test(`malformed: ${name} → "${what}" after the replies owed, then the close; others are served`, async (t) => {
    const bystander = await Client.open(ss.port);
    const c = await Client.open(ss.port);
    t.teardown(() => { c.destroy(); bystander.destroy(); });
    c.send(`PING\r\n${bad}`);
    await c.waitClose();
    t.is(c.received.toString('latin1'), `+PONG\r\n-ERR Protocol error: ${what}\r\n`);
    const line = await ss.waitForLog((l) => l.peer === `127.0.0.1:${c.localPort}`);
    t.is(line.level, 40);
    t.regex(line.msg, new RegExp(`^connection \\d+ \\(127\\.0\\.0\\.1:\\d+\\): bad input: resp: Protocol error: ${what.replace(/[$*]/g, '\\$&')}; closed$`));
    t.false(bystander.closed);
    bystander.send('PING\r\n');
    t.is(String(await bystander.read(7)), '+PONG\r\n');
    t.is(String(await exchange('PING\r\n', '+PONG\r\n')), '+PONG\r\n', 'a second client is served');
  });
}

test('the limits are settings: --proto-max-bulk-len and --proto-max-multibulk-len', async (t) => {
  const small = await startSs(t, ['--plugin', 'resp', '--handler', HANDLER, '--proto-max-bulk-len', '1kb', '--proto-max-multibulk-len', '3']);
  const ask = async (request: string | Buffer) => {
    const c = await Client.open(small.port);
    c.send(request);
    await c.waitClose().catch(() => undefined);
    c.destroy();
    return c.received.toString('latin1');
  };
  t.is(await ask(multibulk(['ECHO', 'x'.repeat(1025)])), '-ERR Protocol error: invalid bulk length\r\n');
  t.is(await ask('*4\r\n'), '-ERR Protocol error: invalid multibulk length\r\n');
  const c = await Client.open(small.port);
  t.teardown(() => c.destroy());
  c.send(multibulk(['ARGS', 'a', 'x'.repeat(1024)]));
  t.is((await c.read(1 + 3 + 7 + 7 + 1024 + 2)).length, 1044, 'exactly the limits are accepted');
});

test('a reply the protocol cannot encode closes that connection with a log line', async (t) => {
  const c = await Client.open(ss.port);
  t.teardown(() => c.destroy());
  c.send('PING\r\nBAD\r\n');
  await c.waitClose();
  t.is(c.received.toString(), '+PONG\r\n');
  const line = await ss.waitForLog((l) => l.peer === `127.0.0.1:${c.localPort}`);
  t.regex(line.msg, /cannot encode reply: resp: cannot encode the number 1\.5/);
  t.is(String(await exchange('PING\r\n', '+PONG\r\n')), '+PONG\r\n');
});

test('redis-benchmark inline and multibulk PING get their replies', async (t) => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile('redis-benchmark', ['-h', '127.0.0.1', '-p', String(ss.port), '-t', 'ping', '-n', '2000', '-c', '4', '-q'], { timeout: 20_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  t.regex(out, /PING_INLINE: [\d.]+ requests per second/);
  t.regex(out, /PING_MBULK: [\d.]+ requests per second/);
});
