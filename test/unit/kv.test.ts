import test from 'ava';
import fc from 'fast-check';
import { globMatch, compileGlob, parseInt64, parseSetOptions, unknownCommand, execute, Store, OK, OOM, KEY_OVERHEAD, type Context } from '@socketserver/plugin-kv';
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

/** Redis's stringmatchlen as it reads (recursive, exponential on some patterns): the reference for the matcher. */
function reference(pat: string, str: string, p = 0, s = 0): boolean {
  const plen = pat.length;
  const slen = str.length;
  while (p < plen && s < slen) {
    const c = pat[p];
    if (c === '*') {
      while (p + 1 < plen && pat[p + 1] === '*') p++;
      if (p + 1 === plen) return true;
      for (; s < slen; s++) if (reference(pat, str, p + 1, s)) return true;
      return false;
    } else if (c === '?') {
      s++;
    } else if (c === '[') {
      p++;
      const not = pat[p] === '^';
      if (not) p++;
      let match = false;
      for (;;) {
        if (pat[p] === '\\' && plen - p >= 2) {
          p++;
          if (pat[p] === str[s]) match = true;
        } else if (pat[p] === ']') {
          break;
        } else if (p >= plen) {
          p--;
          break;
        } else if (plen - p >= 3 && pat[p + 1] === '-') {
          let start = pat.charCodeAt(p);
          let end = pat.charCodeAt(p + 2);
          const ch = str.charCodeAt(s);
          if (start > end) [start, end] = [end, start];
          p += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (pat[p] === str[s]) {
          match = true;
        }
        p++;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
    } else {
      if (c === '\\' && plen - p >= 2) p++;
      if (pat[p] !== str[s]) return false;
      s++;
    }
    p++;
    if (s === slen) {
      while (p < plen && pat[p] === '*') p++;
      break;
    }
  }
  return p === plen && s === slen;
}

test('globMatch: the same answers as Redis\'s recursive stringmatchlen on random small patterns', (t) => {
  const text = (chars: string[], max: number) => fc.array(fc.constantFrom(...chars), { maxLength: max }).map((a) => a.join(''));
  fc.assert(fc.property(text(['a', 'b', '*', '?', '[', ']', '^', '-', '\\'], 10), text(['a', 'b', '-', ']', '^', '\\', '*', '['], 10), (pat, str) => {
    return globMatch(pat, str) === reference(pat, str);
  }), { numRuns: 20_000 });
  t.pass();
});

test('globMatch: an exponential pattern (CVE-2022-36021) on a long string answers within 50 ms', (t) => {
  const pattern = '*a'.repeat(50) + 'b'; // ~100 bytes
  const str = 'a'.repeat(1000);
  const match = compileGlob(pattern);
  const start = performance.now();
  t.false(match(str));
  t.false(globMatch(`${'*'.repeat(30)}${'a*'.repeat(30)}[b]`, str), 'stars in runs and a class');
  t.true(globMatch('*a'.repeat(50), str));
  t.true(performance.now() - start < 50, `${performance.now() - start} ms`);
});

function ctxOf(store: Store): Context {
  return { store, clientId: 1, client: {}, port: 0, startedAt: Date.now() };
}
const cmd = (ctx: Context, ...a: string[]) => execute(a.map((s) => Buffer.from(s)), ctx);

test('store: memory is estimated as keys come and go, back to 0 when empty', (t) => {
  const store = new Store();
  store.set('k', Buffer.from('vv'));
  t.is(store.used, 1 + 2 + KEY_OVERHEAD);
  store.set('k', Buffer.from('vvvv'), 1e15);
  const withTtl = store.used;
  t.true(withTtl > 1 + 4 + KEY_OVERHEAD, 'an expiry costs too');
  store.set('k', Buffer.from('v'), 'keep');
  t.is(store.used, withTtl - 3);
  store.set('k2', Buffer.from('x'));
  store.delete('k');
  store.set('k3', Buffer.from('x'), 1);
  t.is(store.get('k3', 2), undefined, 'expired on read');
  store.delete('k2');
  t.is(store.used, 0);
});

test('store: noeviction refuses writes that add memory with -OOM; reads, DEL and overwriting still work after DEL', (t) => {
  const store = new Store({ maxmemory: 100 * (KEY_OVERHEAD + 20), policy: 'noeviction' });
  const ctx = ctxOf(store);
  let n = 0;
  while (cmd(ctx, 'SET', `key:${n}`, 'x'.repeat(14)) !== OOM && n < 1000) n++;
  t.true(n >= 99 && n <= 101, `${n} keys`);
  t.is(cmd(ctx, 'MSET', 'a', '1'), OOM);
  t.is(cmd(ctx, 'INCR', 'n'), OOM);
  t.deepEqual(cmd(ctx, 'GET', 'key:0'), Buffer.from('x'.repeat(14)));
  t.is(cmd(ctx, 'DEL', 'key:0', 'key:1'), 2);
  t.is(cmd(ctx, 'SET', 'new', 'x'), OK);
  t.is(store.evictedKeys, 0);
  t.regex(String(cmd(ctx, 'INFO', 'memory')), /maxmemory_policy:noeviction/);
});

test('store: a key-count ceiling under the Map limit', (t) => {
  const ctx = ctxOf(new Store({ maxKeys: 10 }));
  for (let i = 0; i < 10; i++) t.is(cmd(ctx, 'SET', `k${i}`, 'v'), OK);
  t.is(cmd(ctx, 'SET', 'k10', 'v'), OOM);
  t.is(cmd(ctx, 'MSET', 'a', 'v', 'b', 'v'), OOM);
});

test('store: allkeys-lru evicts by sampled LRU, keeping the keys in use', (t) => {
  const per = KEY_OVERHEAD + 10;
  const store = new Store({ maxmemory: 1000 * per, policy: 'allkeys-lru' });
  const ctx = ctxOf(store);
  for (let i = 0; i < 1000; i++) cmd(ctx, 'SET', `k${String(i).padStart(4, '0')}`, 'vvvv');
  for (let round = 0; round < 3000; round++) {
    for (let h = 0; h < 100; h++) cmd(ctx, 'GET', `k${String(h).padStart(4, '0')}`); // the first 100: hot
    t.is(cmd(ctx, 'SET', `new${round}`, 'vvvv'), OK);
    // Evicting makes room before a command, which may then add a key longer than the one evicted.
    if (round % 10 === 0) t.true(store.used <= store.maxmemory + KEY_OVERHEAD + 16, `used ${store.used}`);
  }
  t.true(store.evictedKeys >= 3000 - 5);
  let hot = 0;
  for (let h = 0; h < 100; h++) if (store.data.has(`k${String(h).padStart(4, '0')}`)) hot++;
  t.true(hot >= 95, `${hot} of the hot keys kept`);
  let cold = 0;
  for (let c = 100; c < 1000; c++) if (store.data.has(`k${String(c).padStart(4, '0')}`)) cold++;
  t.true(cold < 100, `${cold} cold keys left`);
  t.regex(String(cmd(ctx, 'INFO', 'stats')), /evicted_keys:[1-9]\d*/);
});

test('store: volatile-lru evicts only keys with an expiry, -OOM when there are none', (t) => {
  const store = new Store({ maxmemory: 50 * (KEY_OVERHEAD + 60), policy: 'volatile-lru' });
  const ctx = ctxOf(store);
  for (let i = 0; i < 20; i++) cmd(ctx, 'SET', `keep${i}`, 'v');
  let n = 0;
  for (; n < 500; n++) t.is(cmd(ctx, 'SET', `t${n}`, 'v', 'EX', '1000'), OK);
  for (let i = 0; i < 20; i++) t.true(store.data.has(`keep${i}`));
  t.true(store.evictedKeys > 400);
  cmd(ctx, 'FLUSHALL');
  while (cmd(ctx, 'SET', `p${n}`, 'v') !== OOM && n < 2000) n++;
  t.true(n < 2000, 'no key with an expiry to evict: -OOM');
});

test('expire cycle: repeats while many are expired, so a cycle removes the dead keys it meets, keeps live ones', (t) => {
  const store = new Store();
  for (let i = 0; i < 20_000; i++) store.set(`d${i}`, Buffer.from('v'), 1000 + (i % 7));
  for (let i = 0; i < 200; i++) store.set(`l${i}`, Buffer.from('v'), 1e15);
  for (let i = 0; i < 20_000; i++) store.set(`d2-${i}`, Buffer.from('v'), 1000);
  // The first cycle stops at the run of live keys (a loop with under 10% expired); the next goes on from there.
  t.true(store.activeExpireCycle(5000, 1000) >= 20_000);
  store.activeExpireCycle(5000, 1000);
  t.is(store.data.size, 200);
  t.is(store.expiredKeys, 40_000);
  t.is(store.activeExpireCycle(5000, 1000), 0, 'nothing left to expire');
});

test('expire cycle: stops when few are expired, yet reaches dead keys behind many live ones within 50 cycles', (t) => {
  const store = new Store();
  for (let i = 0; i < 100_000; i++) store.set(`live${i}`, Buffer.from('v'), 1e15);
  for (let i = 0; i < 1000; i++) store.set(`dead${i}`, Buffer.from('v'), 1000);
  let cycles = 0;
  while (store.data.size > 100_000 && cycles < 60) {
    store.activeExpireCycle(5000, 1000);
    cycles++;
  }
  t.is(store.data.size, 100_000);
  t.true(cycles <= 51, `${cycles} cycles`);
});

test('expire cycle: within its time budget', (t) => {
  const store = new Store();
  for (let i = 0; i < 300_000; i++) store.set(`d${i}`, Buffer.from('v'), 1000);
  const start = performance.now();
  const removed = store.activeExpireCycle(5000, 2);
  t.true(performance.now() - start < 200, 'stops soon after the budget');
  t.true(removed > 0 && removed < 300_000, `${removed} removed`);
});
