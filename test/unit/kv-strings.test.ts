import test from 'ava';
import { execute, Store, type Context, type Collection } from '@socketserver/plugin-kv';
import { ErrorReply, type Reply } from '@socketserver/plugin-resp';

/** A store whose events are recorded (`new`, told by the store on any key created, only when `withNew`). */
function setup(withNew = false): { run: (...args: string[]) => Reply; events: string[]; store: Store } {
  const store = new Store();
  const events: string[] = [];
  store.onEvent = (type, event, key) => { if (withNew || type !== 'n') events.push(`${type} ${event} ${key}`); };
  const ctx: Context = { store, clientId: 1, client: {}, port: 0, startedAt: Date.now() };
  const run = (...args: string[]): Reply => {
    const r = execute(args.map((a) => Buffer.from(a, 'latin1')), ctx) as Reply;
    return r instanceof ErrorReply ? `-${r.message}` : r instanceof Buffer ? r.toString('latin1') : r;
  };
  return { run, events, store };
}

test('keyspace events of the string commands, as Redis notifies them', (t) => {
  const { run, events } = setup();
  run('SET', 'a', '1');
  run('SET', 'a', '2', 'EX', '100');
  run('SET', 'a', '3', 'NX'); // not set: nothing
  run('SETNX', 'b', 'x');
  run('SETEX', 'c', '100', 'x');
  run('PSETEX', 'c', '100000', 'x');
  run('GETSET', 'b', 'y');
  run('MSET', 'd', '1', 'e', '2');
  run('MSETNX', 'd', '1', 'f', '2'); // d exists: nothing
  run('INCR', 'd');
  run('DECRBY', 'd', '2');
  run('INCRBYFLOAT', 'd', '0.5');
  run('APPEND', 'e', 'x');
  run('SETRANGE', 'e', '0', 'y');
  run('SETRANGE', 'e', '0', ''); // nothing set: nothing
  run('SETBIT', 'e', '0', '1');
  run('SETBIT', 'e', '0', '1'); // unchanged: nothing
  run('GETEX', 'a', 'PERSIST');
  run('GETEX', 'a', 'PERSIST'); // no time to live left: nothing
  run('GETEX', 'a', 'EX', '10');
  run('GETEX', 'a', 'PXAT', '1');
  run('GETDEL', 'b');
  run('GETDEL', 'b');
  t.deepEqual(events, [
    '$ set a', '$ set a', 'g expire a', '$ set b', '$ set c', 'g expire c', '$ set c', 'g expire c', '$ set b', '$ set d', '$ set e',
    '$ incrby d', '$ incrby d', '$ incrbyfloat d', '$ append e', '$ setrange e', '$ setbit e',
    'g persist a', 'g expire a', 'g del a', 'g del b',
  ]);
});

test('a key created tells new before its own event; one overwritten or changed does not', (t) => {
  const { run, events } = setup(true);
  run('SET', 'a', '1');
  run('SET', 'a', '2');
  run('APPEND', 'a', 'x');
  run('MSET', 'a', '3', 'b', '4');
  run('INCR', 'c');
  t.deepEqual(events, ['n new a', '$ set a', '$ set a', '$ append a', '$ set a', 'n new b', '$ set b', 'n new c', '$ incrby c']);
});

test('a key of another type: WRONGTYPE, LCS its own error, MGET nil', (t) => {
  const { run, store } = setup();
  const list: Collection = { type: 'list', bytes: 1 };
  store.set('l', list);
  const wrong = '-WRONGTYPE Operation against a key holding the wrong kind of value';
  for (const cmd of [['GET', 'l'], ['SET', 'l', 'v', 'GET'], ['GETSET', 'l', 'v'], ['GETDEL', 'l'], ['GETEX', 'l', 'PERSIST'], ['STRLEN', 'l'], ['APPEND', 'l', 'x'],
    ['INCR', 'l'], ['INCRBYFLOAT', 'l', '1'], ['GETRANGE', 'l', '0', '1'], ['SETRANGE', 'l', '0', 'a'], ['SETBIT', 'l', '0', '1'], ['GETBIT', 'l', '0']]) {
    t.is(run(...cmd), wrong, cmd.join(' '));
  }
  t.is(store.lookup('l')?.value, list, 'left as it was');
  t.is(run('LCS', 'l', 'none'), '-ERR The specified keys must contain string values');
  run('SET', 's', 'v');
  t.deepEqual(run('MGET', 's', 'l'), [Buffer.from('v'), null]);
  t.is(run('SET', 'l', 'v'), run('SET', 's', 'v'), 'a plain SET replaces any type');
});

test('INCRBYFLOAT adds in 80-bit long double and prints as %.17Lf', (t) => {
  const { run } = setup();
  t.is(run('INCRBYFLOAT', 'f', '0.1'), '0.1');
  t.is(run('INCRBYFLOAT', 'f', '0.2'), '0.3', 'not the 0.30000000000000004 of doubles');
  t.is(run('INCRBYFLOAT', 'f', '-0.3'), '0');
  t.is(run('INCRBYFLOAT', 'f', String(1 / 41)), '0.02439024390243902');
  t.is(run('INCRBYFLOAT', 'f', String(-1 / 41)), '0', 'no negative zero');
  t.is(run('INCRBYFLOAT', 'f', '1e20'), '100000000000000000000');
  t.is(run('INCRBYFLOAT', 'f', '1'), '100000000000000000000', 'past 64 bits of precision');
  t.is(run('INCRBYFLOAT', 'f', '-1e20'), '0');
  t.is(run('INCRBYFLOAT', 'f', '0x1.8p1'), '3', 'hexadecimal, as strtold');
  t.is(run('INCRBYFLOAT', 'f', '1e-20'), '3', 'below the last bit: unchanged');
  run('SET', 'f', '1.18e4932');
  t.is(run('INCRBYFLOAT', 'f', '1e4932'), '-ERR increment would produce NaN or Infinity');
  for (const bad of ['', ' 1', '1 ', 'nan', '1e', '.', 'abc', '1e5000', '1e-5000', '1\x002']) t.is(run('INCRBYFLOAT', 'g', bad), '-ERR value is not a valid float', JSON.stringify(bad));
  t.is(run('INCRBYFLOAT', 'g', 'inf'), '-ERR increment would produce NaN or Infinity');
});

test('GET and SET without options read no clock', (t) => {
  const { run } = setup();
  const now = Date.now;
  let reads = 0;
  Date.now = () => { reads++; return now(); };
  try {
    run('SET', 'k', 'v');
    run('GET', 'k');
  } finally {
    Date.now = now;
  }
  t.is(reads, 0);
});
