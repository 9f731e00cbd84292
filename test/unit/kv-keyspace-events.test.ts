import test from 'ava';
import { execute, Store, type Context } from '@socketserver/plugin-kv';

// The keyspace events the key, expiry and other types' commands tell the store, as Redis's
// notifyKeyspaceEvent calls in db.c, expire.c and t_*.c; and the memory estimate they keep.

function setup(): { run(...args: string[]): unknown; events: string[]; store: Store } {
  const store = new Store();
  const events: string[] = [];
  // String commands' events and new-key events ('n') are not these commands': left out.
  store.onEvent = (type, event, key) => { if (type !== '$' && type !== 'n') events.push(`${type}:${event}:${key}`); };
  const ctx: Context = { store, clientId: 1, client: {}, port: 0, startedAt: 0 };
  return { run: (...args) => execute(args.map((a) => Buffer.from(a, 'latin1')), ctx), events, store };
}

test('DEL, UNLINK, RENAME, COPY, EXPIRE, PERSIST and expiry in the past tell Redis\'s generic events', (t) => {
  const { run, events } = setup();
  run('SET', 'a', '1');
  run('SET', 'b', '2');
  run('DEL', 'a', 'nope');
  run('UNLINK', 'b');
  run('SET', 'c', '3');
  run('EXPIRE', 'c', '100');
  run('EXPIRE', 'c', '100', 'NX'); // not set: no event
  run('PERSIST', 'c');
  run('RENAME', 'c', 'd');
  run('RENAMENX', 'd', 'd'); // same key: nothing happens
  run('COPY', 'd', 'e');
  run('PEXPIREAT', 'e', '1');
  t.deepEqual(events, ['g:del:a', 'g:del:b', 'g:expire:c', 'g:persist:c', 'g:rename_from:c', 'g:rename_to:d', 'g:copy_to:e', 'g:del:e']);
});

test('the other types tell their own events, and del when emptied', (t) => {
  const { run, events } = setup();
  run('RPUSH', 'l', 'a');
  run('LPUSH', 'l', 'b');
  run('LPOP', 'l');
  run('RPOP', 'l');
  run('SADD', 's', 'a');
  run('SADD', 's', 'a'); // nothing added: no event
  run('SREM', 's', 'a');
  run('HSET', 'h', 'f', 'v');
  run('HDEL', 'h', 'f');
  run('ZADD', 'z', '1', 'm');
  run('ZADD', 'z', '1', 'm'); // unchanged: no event
  run('ZREM', 'z', 'm');
  run('XADD', 'x', '1-1', 'f', 'v');
  t.deepEqual(events, ['l:rpush:l', 'l:lpush:l', 'l:lpop:l', 'l:rpop:l', 'g:del:l', 's:sadd:s', 's:srem:s', 'g:del:s',
    'h:hset:h', 'h:hdel:h', 'g:del:h', 'z:zadd:z', 'z:zrem:z', 'g:del:z', 't:xadd:x']);
});

test('the memory estimate follows the collections as they grow, shrink, are copied, renamed and deleted', (t) => {
  const { run, store } = setup();
  run('RPUSH', 'l', 'a', 'bb', 'ccc');
  run('SADD', 's', '1', 'two');
  run('HSET', 'h', 'f', 'v', 'g', 'w');
  run('HSET', 'h', 'f', 'longer value');
  run('ZADD', 'z', '1', 'm', '2', 'n');
  run('XADD', 'x', '*', 'f', 'v');
  const before = store.used;
  t.true(before > 0);
  run('COPY', 'l', 'l2');
  run('RENAME', 'l2', 'l3');
  t.true(store.used > before);
  run('DEL', 'l3');
  t.is(store.used, before, 'a copy deleted gives back what it took');
  run('LPOP', 'l', '3');
  run('SREM', 's', '1', 'two');
  run('HDEL', 'h', 'f', 'g');
  run('ZREM', 'z', 'm', 'n');
  run('DEL', 'x');
  t.is(store.data.size, 0);
  t.is(store.used, 0);
});
