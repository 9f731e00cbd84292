import test from 'ava';
import { globMatch, parseInt64, parseSetOptions, unknownCommand, execute, Store, type Context } from '@socketserver/plugin-kv';
import { ErrorReply } from '@socketserver/plugin-resp';

test('globMatch: Redis glob patterns', (t) => {
  const yes: [string, string][] = [['*', 'abc'], ['a*', 'a'], ['a*c', 'abbbc'], ['a?c', 'abc'], ['[abc]x', 'bx'], ['[^a]x', 'bx'],
    ['[a-c]', 'b'], ['[c-a]', 'b'], ['a\\*', 'a*'], ['[\\]]', ']'], ['**b', 'aab'], ['', '']];
  const no: [string, string][] = [['a?c', 'ac'], ['[abc]x', 'dx'], ['[^a]x', 'ax'], ['[a-c]', 'd'], ['a\\*', 'ab'], ['abc', 'ab'], ['ab', 'abc'], ['*', ''], ['a[', 'a[']];
  // An unterminated class never matches, and `*` needs a character, as in Redis's stringmatchlen.
  for (const [p, s] of yes) t.true(globMatch(p, s), `${p} ~ ${s}`);
  for (const [p, s] of no) t.false(globMatch(p, s), `${p} !~ ${s}`);
});

test('parseInt64: as Redis string2ll', (t) => {
  t.is(parseInt64(Buffer.from('0')), 0n);
  t.is(parseInt64(Buffer.from('-12')), -12n);
  t.is(parseInt64(Buffer.from('9223372036854775807')), 2n ** 63n - 1n);
  t.is(parseInt64(Buffer.from('-9223372036854775808')), -(2n ** 63n));
  for (const bad of ['', '+1', ' 1', '01', '-0', '1.0', '9223372036854775808', 'x']) t.is(parseInt64(Buffer.from(bad)), undefined, bad);
});

test('parseSetOptions: EX, PX, NX, XX, KEEPTTL and errors', (t) => {
  const opts = (...a: string[]) => parseSetOptions(['SET', 'k', 'v', ...a].map((s) => Buffer.from(s)), 1000);
  t.deepEqual(opts(), { expireAt: undefined, cond: undefined });
  t.deepEqual(opts('ex', '2', 'nx'), { expireAt: 3000, cond: 'NX' });
  t.deepEqual(opts('XX', 'PX', '5'), { expireAt: 1005, cond: 'XX' });
  t.deepEqual(opts('KEEPTTL'), { expireAt: 'keep', cond: undefined });
  const err = (r: unknown) => (r instanceof ErrorReply ? r.message : 'not an error');
  t.is(err(opts('NX', 'XX')), 'ERR syntax error');
  t.is(err(opts('EX', '1', 'PX', '1')), 'ERR syntax error');
  t.is(err(opts('EX')), 'ERR syntax error');
  t.is(err(opts('EX', 'a')), 'ERR value is not an integer or out of range');
  t.is(err(opts('PX', '-1')), "ERR invalid expire time in 'set' command");
});

test('unknownCommand: arguments quoted, truncated at 128 bytes', (t) => {
  const msg = (...a: string[]) => (unknownCommand(a.map((s) => Buffer.from(s))) as ErrorReply).message;
  t.is(msg('x'), "ERR unknown command 'x', with args beginning with: ");
  t.is(msg('x', 'a', 'b'), "ERR unknown command 'x', with args beginning with: 'a' 'b' ");
  t.is(msg('x', 'a'.repeat(126), 'b'), `ERR unknown command 'x', with args beginning with: '${'a'.repeat(126)}' `, 'stops once 128 bytes are written');
  t.is(msg('x', 'a'.repeat(100), 'b'.repeat(40), 'c'), `ERR unknown command 'x', with args beginning with: '${'a'.repeat(100)}' '${'b'.repeat(25)}' `);
});

test('execute: binary keys and values are kept byte for byte', (t) => {
  const ctx: Context = { store: new Store(), clientId: 1, client: {}, port: 0, startedAt: Date.now() };
  const k = Buffer.from([0xff, 0, 0x80]);
  const v = Buffer.from([0, 1, 0xfe]);
  execute([Buffer.from('SET'), k, v], ctx);
  t.deepEqual(execute([Buffer.from('get'), k], ctx), v);
  t.deepEqual(execute([Buffer.from('KEYS'), Buffer.from('*')], ctx), [k]);
  t.is(execute([Buffer.from('GET'), Buffer.from([0xff, 0])], ctx), null);
});

test('stored values are copies: the read a request came in is reused or freed without changing them', (t) => {
  const ctx: Context = { store: new Store(), clientId: 1, client: {}, port: 0, startedAt: Date.now() };
  const read = Buffer.from('SETk1v1k2v2k3v3name');
  const arg = (from: number, to: number) => read.subarray(from, to);
  execute([arg(0, 3), arg(3, 5), arg(5, 7)], ctx); // SET k1 v1
  execute([Buffer.from('SET'), arg(7, 9), arg(9, 11), Buffer.from('EX'), Buffer.from('100')], ctx);
  execute([Buffer.from('MSET'), arg(11, 13), arg(13, 15)], ctx);
  execute([Buffer.from('CLIENT'), Buffer.from('SETNAME'), arg(15, 19)], ctx);
  read.fill(0x78); // the next read lands here
  for (const n of ['1', '2', '3']) t.deepEqual(execute([Buffer.from('GET'), Buffer.from(`k${n}`)], ctx), Buffer.from(`v${n}`));
  t.deepEqual(execute([Buffer.from('CLIENT'), Buffer.from('GETNAME')], ctx), Buffer.from('name'));
  t.not(execute([Buffer.from('get'), Buffer.from('k1')], ctx), null, 'any case');
  t.is((execute([Buffer.from('Get')], ctx) as ErrorReply).message, "ERR wrong number of arguments for 'get' command", 'mixed case, its name in lower case');
});
