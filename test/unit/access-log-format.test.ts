import test from 'ava';
import type { Connection, Request } from '@socketserver/core';
import { clfTime, compileFormat, DEFAULT_FORMAT, JSON_FORMAT, jsonString, parseFormat } from '@socketserver/plugin-access-log';

const ctx = { worker: 3, pid: 4242, server: 'line' };
const NOW = Date.UTC(2026, 11, 2, 5, 6, 51, 250);

function conn(over: Partial<Record<string, unknown>> = {}): Connection {
  return {
    id: 7, peer: '127.0.0.1:50412', proxy: undefined, requests: 2, closeReason: 'clean',
    socket: { bytesRead: 12, bytesWritten: 10 }, ...over,
  } as unknown as Connection;
}

test('the default format: a connection line, and a request line with - for what only a connection has', (t) => {
  const line = compileFormat(DEFAULT_FORMAT, ctx);
  const c = conn();
  t.is(line(c, c.peer, undefined, 1234, NOW), `${clfTime(NOW)} 127.0.0.1:50412 3 7 - 2 12 10 1234 clean\n`);
  const r = { connection: c, seq: 2 } as unknown as Request;
  t.is(line(c, c.peer, r, 0.0416, NOW), `${clfTime(NOW)} 127.0.0.1:50412 3 7 2 - - - 0.042 -\n`);
});

test('every token, and literal text around them', (t) => {
  const line = compileFormat('{kind}:{iso} pid={pid} {server} w{worker} "{peer}" {reason} {duration}ms {x', ctx);
  t.is(line(conn({ closeReason: 'idle' }), '127.0.0.1:50412', undefined, 15.4, NOW), 'conn:2026-12-02T05:06:51.250Z pid=4242 line w3 "127.0.0.1:50412" idle 15ms {x\n');
});

test('{time} is gunicorn\'s [day/Mon/year:H:M:S zone] in local time, the same instant to the second', (t) => {
  const text = clfTime(NOW);
  const m = /^\[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]$/.exec(text);
  t.truthy(m, text);
  t.is(Date.parse(`${m![1]} ${m![2]} ${m![3]} ${m![4]} ${m![5]}`), NOW - 250);
});

test('a peer a PROXY header named cannot split or forge a line', (t) => {
  const line = compileFormat('{peer} {reason}', ctx);
  const out = line(conn({ proxy: {} }), 'unix:/tmp/a b\n"x', undefined, 0, NOW);
  t.is(out, 'unix:/tmp/a\\x20b\\x0a\\x22x clean\n');
});

test('an unknown token or a line break is refused, naming it', (t) => {
  t.throws(() => parseFormat('{time} {nope}'), { message: /\{nope\} is not one; the tokens are \{time\} .*\{reason\}/ });
  t.throws(() => parseFormat('{time}\n{peer}'), { message: /line break/ });
  t.deepEqual(parseFormat('a {peer}b'), ['a ', { token: 'peer' }, 'b']);
});

test('json: a connection line and a request line, each one JSON object with every token\'s field in order, null where it does not apply', (t) => {
  const line = compileFormat(JSON_FORMAT, { worker: 3, pid: 4242, server: 'edge "1"' });
  const c = conn();
  const connLine = line(c, c.peer, undefined, 1234.4, NOW);
  t.true(connLine.endsWith('}\n') && !connLine.slice(0, -1).includes('\n'), connLine);
  t.is(connLine, '{"time":"2026-12-02T05:06:51.250Z","kind":"conn","peer":"127.0.0.1:50412","conn":7,"worker":3,"pid":4242,'
    + '"server":"edge \\"1\\"","seq":null,"requests":2,"bytes_in":12,"bytes_out":10,"duration":1234,"reason":"clean"}\n');
  t.deepEqual(Object.keys(JSON.parse(connLine) as object),
    ['time', 'kind', 'peer', 'conn', 'worker', 'pid', 'server', 'seq', 'requests', 'bytes_in', 'bytes_out', 'duration', 'reason']);
  const r = { connection: c, seq: 2 } as unknown as Request;
  t.deepEqual(JSON.parse(line(c, c.peer, r, 0.0416, NOW)), {
    time: '2026-12-02T05:06:51.250Z', kind: 'req', peer: '127.0.0.1:50412', conn: 7, worker: 3, pid: 4242, server: 'edge "1"',
    seq: 2, requests: null, bytes_in: null, bytes_out: null, duration: 0.042, reason: null,
  });
});

test('json: a peer a PROXY header named (quotes, backslashes, controls, separators) is one JSON string that reads back as it was', (t) => {
  const line = compileFormat(JSON_FORMAT, ctx);
  const peer = 'unix:/tmp/a "b"\\c\n\r\t\x00\x1b[31m\x7f\x9b2J\u2028\u202e\ud800 é';
  const out = line(conn({ proxy: {} }), peer, undefined, 0, NOW);
  t.is(out.indexOf('\n'), out.length - 1, 'one line');
  t.false(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/.test(out.slice(0, -1)), `nothing raw a terminal acts on: ${JSON.stringify(out)}`);
  t.is((JSON.parse(out) as { peer: string }).peer, peer);
  t.is(jsonString('127.0.0.1:1'), '"127.0.0.1:1"');
  t.is(jsonString('a"b\\c'), '"a\\"b\\\\c"');
});

test('json is a format of its own, not the literal text "json"; other text around tokens stays text', (t) => {
  t.notThrows(() => parseFormat(JSON_FORMAT));
  t.is(compileFormat('json {kind}', ctx)(conn(), '127.0.0.1:1', undefined, 0, NOW), 'json conn\n');
});
