import test from 'ava';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

// Not part of the package's API (but createLogger is): loaded from its built file.
type LoggerModule = typeof import('../../core/dist/logger.js');
const { createLogger, formatLine, hasColour } = await import(pathToFileURL(join(REPO, 'core', 'dist', 'logger.js')).href) as LoggerModule;

const STAMP = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /;
const ESC = /\x1b\[/;

/** The local time of `ms` as the pretty line shows it. */
function local(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

test('a pretty line: local time, pid, level, message, then the other fields as key=value', (t) => {
  const time = Date.UTC(2026, 11, 2, 5, 6, 51, 250);
  const json = JSON.stringify({ level: 30, time, pid: 2296, hostname: 'h', name: 'line', msg: 'listening on 127.0.0.1:8060', address: '127.0.0.1:8060', workers: 2, pids: [3, 4] });
  t.is(formatLine(json, false), `[${local(time)}] [2296] INFO  listening on 127.0.0.1:8060 workers=2 pids=[3,4]\n`, 'the address is said once');
});

test('pretty: a field the message already says as a word of its own is not repeated; a part of a word is not that', (t) => {
  const line = (fields: Record<string, unknown>) => formatLine(JSON.stringify({ level: 30, time: 0, pid: 1, ...fields }), false).replace(STAMP, '');
  t.is(line({ msg: 'worker 1 ready (pid 14039)', worker: 1, workerPid: 14039 }), '[1] INFO  worker 1 ready (pid 14039)\n');
  t.is(line({ msg: 'worker 12 ready (pid 14039)', worker: 1, workerPid: 1403 }), '[1] INFO  worker 12 ready (pid 14039) worker=1 workerPid=1403\n');
  t.is(line({ msg: 'listening on 127.0.0.1:80601', port: 8060, ok: true }), '[1] INFO  listening on 127.0.0.1:80601 port=8060 ok=true\n');
});

test('pretty: every level named and padded; an ISO time is read too', (t) => {
  const names = [[10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO '], [40, 'WARN '], [50, 'ERROR'], [60, 'FATAL']] as const;
  for (const [level, name] of names) {
    const line = formatLine(JSON.stringify({ level, time: '2026-12-02T05:06:51.000Z', pid: 1, msg: 'm' }), false);
    t.is(line, `[${local(Date.parse('2026-12-02T05:06:51.000Z'))}] [1] ${name} m\n`);
  }
});

test('pretty: values with spaces, quotes, newlines or nothing are quoted; objects are compact JSON', (t) => {
  const line = formatLine(JSON.stringify({ level: 40, time: 0, pid: 1, msg: 'm', a: 'two words', b: '', c: 'say "hi"', d: 'a\nb', e: { k: 'v' }, f: { k: 'v w' }, g: true, h: null }), false);
  t.is(line.replace(STAMP, ''), '[1] WARN  m a="two words" b="" c="say \\"hi\\"" d="a\\nb" e={"k":"v"} f="{\\"k\\":\\"v w\\"}" g=true h=null\n');
});

test('pretty: an error\'s stack is indented on the lines below; its other fields stay on the line', (t) => {
  const err = Object.assign(new Error('no such file'), { code: 'ENOENT' });
  const log = { level: 50, time: 0, pid: 7, msg: 'open failed', err: { type: 'Error', message: err.message, stack: err.stack, code: 'ENOENT' }, path: '/x' };
  const [first, ...rest] = formatLine(JSON.stringify(log), false).trimEnd().split('\n');
  t.is(first!.replace(STAMP, ''), '[7] ERROR open failed err.code=ENOENT path=/x');
  t.is(rest[0], '    Error: no such file');
  t.true(rest.length > 1 && rest.slice(1).every((l) => l.startsWith('    at ')), rest.join('\n'));
});

test('pretty: control characters in the message, keys, values and stacks are escaped as JSON escapes them: no forged line, no raw escape', (t) => {
  const evil = 'peer\n[2026-01-01 00:00:00] [1] INFO  forged\x1b[31m\r\t\x00\x7f\x9b\u2028\u202e';
  const stack = `Error: ${evil}\n    at f (x.js:1:1)`;
  const log = { level: 40, time: 0, pid: 1, msg: `from ${evil}`, [`k${evil}`]: 'v', peer: `x${evil}`, o: { p: evil }, err: { type: 'Error', message: evil, stack, [`c${evil}`]: 1 } };
  const out = formatLine(JSON.stringify(log), true);
  const lines = out.trimEnd().split('\n');
  t.is(lines.length, 3, out); // the event's line and its stack's two
  t.true(lines.slice(1).every((l) => l.startsWith('    ')), out);
  const plain = out.replace(/\x1b\[(?:2|22|33|39)m/g, ''); // the colours the formatter adds itself
  t.false(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(plain), JSON.stringify(out));
  const escaped = 'peer\\n[2026-01-01 00:00:00] [1] INFO  forged\\u001b[31m\\r\\t\\u0000\\u007f\\u009b\\u2028\\u202e';
  t.true(lines[0]!.includes(`from ${escaped} k${escaped}=v`), lines[0]);
  t.true(lines[0]!.includes(` peer="x${escaped}"`), lines[0]);
  t.true(lines[1]!.includes(`Error: ${escaped}`), lines[1]);
});

test('pretty: the level is coloured and the time dimmed only when asked', (t) => {
  const json = JSON.stringify({ level: 30, time: 0, pid: 1, msg: 'm' });
  t.false(ESC.test(formatLine(json, false)));
  const coloured = formatLine(json, true);
  t.regex(coloured, /^\x1b\[2m\[[^\]]+\]\x1b\[22m \[1\] \x1b\[32mINFO \x1b\[39m m\n$/);
  t.regex(formatLine(JSON.stringify({ level: 50, time: 0, pid: 1, msg: 'm' }), true), /\x1b\[31mERROR\x1b\[39m/);
});

test('pretty: a line that is not a JSON object passes through', (t) => {
  t.is(formatLine('not json\n', false), 'not json\n');
  t.is(formatLine('42\n', false), '42\n');
});

test('colour: FORCE_COLOR decides wherever lines go; otherwise only a terminal has it', (t) => {
  const fd = openSync(join(tempDir(t, 'colour'), 'log'), 'w');
  t.teardown(() => closeSync(fd));
  t.true(hasColour(fd, { FORCE_COLOR: '1' }));
  t.true(hasColour(fd, { FORCE_COLOR: '' }));
  t.true(hasColour(fd, { FORCE_COLOR: '1', NO_COLOR: '1' }));
  t.false(hasColour(fd, { FORCE_COLOR: '0' }));
  t.false(hasColour(fd, { FORCE_COLOR: 'false' }));
  t.false(hasColour(fd, { TERM: 'xterm-256color' }), 'a file is no terminal');
});

test('createLogger writes JSON lines or pretty lines to the fd it is given (written once flushed)', async (t) => {
  const dir = tempDir(t, 'logger');
  const write = async (format: 'json' | 'pretty'): Promise<string> => {
    const fd = openSync(join(dir, format), 'w');
    try {
      const log = createLogger('info', 'demo', format, fd);
      log.debug('hidden');
      log.info({ port: 8060, host: 'a b' }, 'hello');
      log.error({ err: new Error('boom') }, 'failed');
      await new Promise<void>((resolve) => log.flush(() => resolve()));
    } finally {
      closeSync(fd);
    }
    return readFileSync(join(dir, format), 'utf8');
  };
  const json = (await write('json')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(json.length, 2);
  t.like(json[0], { level: 30, pid: process.pid, name: 'demo', port: 8060, host: 'a b', msg: 'hello' });
  t.regex(json[0]!.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'an ISO time, as always');
  const pretty = await write('pretty');
  t.regex(pretty, new RegExp(`^\\[[^\\]]+\\] \\[${process.pid}\\] INFO  hello port=8060 host="a b"\\n` +
    `\\[[^\\]]+\\] \\[${process.pid}\\] ERROR failed\\n    Error: boom\\n    at `));
  t.false(ESC.test(pretty), 'no colour in a file');
});
