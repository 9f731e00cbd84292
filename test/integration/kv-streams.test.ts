import test from 'ava';
import { connect, type Socket } from 'node:net';
import { kvPerFile, type Plain } from '../helpers/kv-call.js';
import { sleep } from '../helpers/wait.js';

// kv's streams with consumer groups as Redis 7.0 answers (replies checked against redis-server
// 7.0.15): XGROUP, XREADGROUP, XREAD, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XDEL, XINFO, COPY of a
// stream with groups, and the keyspace events.

const { call, port } = kvPerFile(test, (c) => c('SET', 'str', 'v'));
const WRONG = '-WRONGTYPE Operation against a key holding the wrong kind of value';
const INVALID = '-ERR Invalid stream ID specified as stream command argument';


/** A flat [name, value, …] reply as an object. */
function fields(reply: Plain): Record<string, Plain> {
  const list = reply as Plain[];
  const out: Record<string, Plain> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1]!;
  return out;
}

async function sixEntries(): Promise<void> {
  for (const [id, f] of [['100', 'a'], ['101', 'b'], ['102', 'c'], ['103', 'e'], ['104', 'f'], ['105', 'g']]) await call('XADD', 'x', id!, f!, '1');
}

test.serial('XGROUP CREATE (0, $, MKSTREAM, ENTRIESREAD), SETID, CREATECONSUMER, DELCONSUMER, DESTROY, HELP and their errors', async (t) => {
  await sixEntries();
  t.is(await call('XGROUP', 'CREATE', 'x', 'g1', '0'), '+OK');
  t.is(await call('XGROUP', 'CREATE', 'x', 'g1', '0'), '-BUSYGROUP Consumer Group name already exists');
  t.is(await call('XGROUP', 'create', 'x', 'g2', '$', 'ENTRIESREAD', '6'), '+OK');
  t.is(await call('XGROUP', 'CREATE', 'nokey', 'g', '0'),
    '-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.');
  t.is(await call('XGROUP', 'CREATE', 'made', 'g', '$', 'MKSTREAM'), '+OK');
  t.is(await call('TYPE', 'made'), '+stream');
  t.is(await call('XLEN', 'made'), 0);
  t.is(await call('XGROUP', 'CREATE', 'x', 'g3', '0', 'ENTRIESREAD', '-2'), '-ERR value for ENTRIESREAD must be positive or -1');
  t.is(await call('XGROUP', 'CREATE', 'x', 'g3', '0', 'ENTRIESREAD', 'x'), '-ERR value is not an integer or out of range');
  t.is(await call('XGROUP', 'CREATE', 'x', 'g3', '0', 'FOO'), "-ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.");
  t.is(await call('XGROUP', 'CREATE', 'x', 'g3', 'abc'), INVALID);
  t.is(await call('XGROUP', 'CREATE', 'x', 'g3', '-'), INVALID);
  t.is(await call('XGROUP', 'CREATE', 'x'), "-ERR wrong number of arguments for 'xgroup|create' command");
  t.is(await call('XGROUP', 'FOO', 'x', 'g'), "-ERR unknown subcommand 'FOO'. Try XGROUP HELP.");
  t.is(await call('XGROUP', 'CREATE', 'str', 'g', '0'), WRONG);
  t.deepEqual((await call('XINFO', 'GROUPS', 'x') as Plain[]).map(fields), [
    { name: 'g1', consumers: 0, pending: 0, 'last-delivered-id': '0-0', 'entries-read': null, lag: 6 },
    { name: 'g2', consumers: 0, pending: 0, 'last-delivered-id': '105-0', 'entries-read': 6, lag: 0 },
  ]);

  t.is(await call('XGROUP', 'SETID', 'x', 'g1', '102', 'ENTRIESREAD', '3'), '+OK');
  t.is(await call('XGROUP', 'SETID', 'x', 'g2', '$'), '+OK');
  t.is(await call('XGROUP', 'SETID', 'x', 'nog', '0'), "-NOGROUP No such consumer group 'nog' for key name 'x'");
  t.is(await call('XGROUP', 'SETID', 'x', 'g1', '0', 'ENTRIESREAD', '3', 'X'), "-ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.");
  t.deepEqual(fields((await call('XINFO', 'GROUPS', 'x') as Plain[])[0]!), { name: 'g1', consumers: 0, pending: 0, 'last-delivered-id': '102-0', 'entries-read': 3, lag: 3 });

  t.is(await call('XGROUP', 'CREATECONSUMER', 'x', 'g1', 'Eve'), 1);
  t.is(await call('XGROUP', 'CREATECONSUMER', 'x', 'g1', 'Eve'), 0);
  t.is(await call('XGROUP', 'CREATECONSUMER', 'x', 'nog', 'Eve'), "-NOGROUP No such consumer group 'nog' for key name 'x'");
  await call('XREADGROUP', 'GROUP', 'g1', 'Eve', 'STREAMS', 'x', '>');
  t.is(await call('XGROUP', 'DELCONSUMER', 'x', 'g1', 'Eve'), 3, 'the pending entries it dropped');
  t.is(await call('XGROUP', 'DELCONSUMER', 'x', 'g1', 'Eve'), 0);
  t.deepEqual(await call('XPENDING', 'x', 'g1'), [0, null, null, null]);
  t.is(await call('XGROUP', 'DESTROY', 'x', 'g2'), 1);
  t.is(await call('XGROUP', 'DESTROY', 'x', 'g2'), 0);
  t.is(await call('XGROUP', 'DESTROY', 'x'), "-ERR wrong number of arguments for 'xgroup|destroy' command");
  // The read counter is Redis's signed 64-bit one: past the greatest it wraps, as there.
  await call('XGROUP', 'CREATE', 'x', 'big', '0', 'ENTRIESREAD', '9223372036854775807');
  await call('XREADGROUP', 'GROUP', 'big', 'A', 'COUNT', '1', 'STREAMS', 'x', '>');
  const big = fields((await call('XINFO', 'GROUPS', 'x') as Plain[])[0]!);
  t.is(String(big['entries-read']), '-9223372036854775808');
  t.is(String(big.lag), '-9223372036854775802');
  const help = await call('XGROUP', 'HELP') as string[];
  t.is(help[0], '+XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  t.is(help.length, 17);
  t.is(help[16], '+    Prints this help.');
});

test.serial('XREADGROUP: > delivers new entries (COUNT, NOACK), an ID reads the consumer\'s pending history, and its errors', async (t) => {
  await sixEntries();
  await call('XGROUP', 'CREATE', 'x', 'g', '0');
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Alice', 'COUNT', '1', 'STREAMS', 'x', '>'), [['x', [['100-0', ['a', '1']]]]]);
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'COUNT', '2', 'STREAMS', 'x', '>'), [['x', [['101-0', ['b', '1']], ['102-0', ['c', '1']]]]]);
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'NOACK', 'COUNT', '1', 'STREAMS', 'x', '>'), [['x', [['103-0', ['e', '1']]]]]);
  t.deepEqual(await call('XPENDING', 'x', 'g'), [3, '100-0', '102-0', [['Alice', '1'], ['Bob', '2']]]);
  // History: Bob's own pending entries after the ID; each delivery counted.
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', '0'), [['x', [['101-0', ['b', '1']], ['102-0', ['c', '1']]]]]);
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'COUNT', '1', 'STREAMS', 'x', '101'), [['x', [['102-0', ['c', '1']]]]]);
  t.deepEqual((await call('XPENDING', 'x', 'g', '-', '+', '10', 'Bob') as Plain[][]).map((p) => [p[0], p[1], p[3]]), [['101-0', 'Bob', 2], ['102-0', 'Bob', 3]]);
  // An entry deleted while pending shows as [id, nil].
  t.is(await call('XDEL', 'x', '101'), 1);
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', '0'), [['x', [['101-0', null], ['102-0', ['c', '1']]]]]);
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', '>'), [['x', [['104-0', ['f', '1']], ['105-0', ['g', '1']]]]]);
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', '>'), null, 'nothing new');
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'BLOCK', '0', 'STREAMS', 'x', '>'), null, 'BLOCK does not block: nil at once');
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Nobody', 'STREAMS', 'x', '>'), null);
  t.deepEqual((await call('XINFO', 'CONSUMERS', 'x', 'g') as Plain[]).map((c) => fields(c).name), ['Alice', 'Bob'], 'no consumer made when nothing is read');
  // A group whose last ID is moved back: an entry pending for another consumer changes hands, delivered once.
  await call('XGROUP', 'SETID', 'x', 'g', '0');
  t.deepEqual(await call('XREADGROUP', 'GROUP', 'g', 'Carol', 'COUNT', '1', 'STREAMS', 'x', '>'), [['x', [['100-0', ['a', '1']]]]]);
  t.deepEqual((await call('XPENDING', 'x', 'g', '-', '100', '1') as Plain[][]).map((p) => [p[0], p[1], p[3]]), [['100-0', 'Carol', 1]]);

  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', '$'),
    '-ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.');
  t.is(await call('XREADGROUP', 'GROUP', 'nog', 'Bob', 'STREAMS', 'x', '>'), "-NOGROUP No such key 'x' or consumer group 'nog' in XREADGROUP with GROUP option");
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'nokey', '>'), "-NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option");
  t.is(await call('XREADGROUP', 'COUNT', '1', 'NOACK', 'STREAMS', 'x', '>'), '-ERR Missing GROUP option for XREADGROUP');
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', 'y', '>'), "-ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'x', 'abc'), INVALID);
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'BLOCK', '-1', 'STREAMS', 'x', '>'), '-ERR timeout is negative');
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS', 'str', '>'), WRONG);
  t.is(await call('XREADGROUP', 'GROUP', 'g', 'Bob', 'STREAMS'), "-ERR wrong number of arguments for 'xreadgroup' command");
});

test.serial('XREAD: entries after each ID or $ (COUNT, several streams), nil when none, BLOCK answered at once, and its errors', async (t) => {
  await sixEntries();
  await call('XADD', 'y', '1', 'k', 'v');
  t.deepEqual(await call('XREAD', 'COUNT', '2', 'STREAMS', 'x', '102'), [['x', [['103-0', ['e', '1']], ['104-0', ['f', '1']]]]]);
  t.deepEqual(await call('XREAD', 'STREAMS', 'x', 'nokey', 'y', '104', '0', '0'), [['x', [['105-0', ['g', '1']]]], ['y', [['1-0', ['k', 'v']]]]]);
  t.is(await call('XREAD', 'STREAMS', 'x', '$'), null);
  t.is(await call('XREAD', 'BLOCK', '0', 'STREAMS', 'x', '$'), null, 'BLOCK does not block: nil at once');
  t.deepEqual(await call('XREAD', 'BLOCK', '100', 'STREAMS', 'y', '0'), [['y', [['1-0', ['k', 'v']]]]]);
  t.is(await call('XREAD', 'STREAMS', 'x', '>'), '-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.');
  t.is(await call('XREAD', 'GROUP', 'g', 'c', 'STREAMS', 'x', '0'), '-ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.');
  t.is(await call('XREAD', 'NOACK', 'STREAMS', 'x', '0'), '-ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.');
  t.is(await call('XREAD', 'COUNT', 'a', 'STREAMS', 'x', '0'), '-ERR value is not an integer or out of range');
  t.is(await call('XREAD', 'BLOCK', 'a', 'STREAMS', 'x', '0'), '-ERR timeout is not an integer or out of range');
  t.is(await call('XREAD', 'FOO', 'STREAMS', 'x', '0'), '-ERR syntax error');
  t.is(await call('XREAD', 'STREAMS', 'str', '0'), WRONG);
});

test.serial('XACK and XPENDING (summary; range with IDLE, exclusive bounds, consumer) and their errors', async (t) => {
  await sixEntries();
  await call('XGROUP', 'CREATE', 'x', 'g', '0');
  await call('XREADGROUP', 'GROUP', 'g', 'A', 'COUNT', '2', 'STREAMS', 'x', '>');
  await call('XREADGROUP', 'GROUP', 'g', 'B', 'STREAMS', 'x', '>');
  const range = await call('XPENDING', 'x', 'g', '-', '+', '10') as Plain[][];
  t.deepEqual(range.map((p) => [p[0], p[1], p[3]]), [['100-0', 'A', 1], ['101-0', 'A', 1], ['102-0', 'B', 1], ['103-0', 'B', 1], ['104-0', 'B', 1], ['105-0', 'B', 1]]);
  t.true(range.every((p) => typeof p[2] === 'number' && p[2] >= 0));
  t.deepEqual((await call('XPENDING', 'x', 'g', '(100', '(104', '2') as Plain[][]).map((p) => p[0]), ['101-0', '102-0']);
  t.deepEqual((await call('XPENDING', 'x', 'g', '-', '+', '10', 'A') as Plain[][]).map((p) => p[0]), ['100-0', '101-0']);
  t.deepEqual(await call('XPENDING', 'x', 'g', '-', '+', '10', 'Nobody'), []);
  t.deepEqual(await call('XPENDING', 'x', 'g', 'IDLE', '3600000', '-', '+', '10'), [], 'none idle an hour');
  t.is((await call('XPENDING', 'x', 'g', 'IDLE', '0', '-', '+', '10') as Plain[]).length, 6);

  t.is(await call('XACK', 'x', 'g', '100', '102', '999'), 2);
  t.is(await call('XACK', 'x', 'g', '100'), 0);
  t.is(await call('XACK', 'x', 'nog', '100'), 0);
  t.is(await call('XACK', 'nokey', 'g', 'abc'), 0, 'no group: 0 before the IDs are read');
  t.is(await call('XACK', 'x', 'g', '101', 'abc'), INVALID);
  t.deepEqual(await call('XPENDING', 'x', 'g'), [4, '101-0', '105-0', [['A', '1'], ['B', '3']]], 'nothing acked by a refused XACK');
  t.is(await call('XACK', 'str', 'g', '1'), WRONG);

  t.is(await call('XPENDING', 'x', 'g', '-', '+'), '-ERR syntax error');
  t.is(await call('XPENDING', 'x', 'g', 'IDLE', '0', '-', '+'), '-ERR syntax error');
  t.is(await call('XPENDING', 'x', 'g', '-', '+', 'a'), '-ERR value is not an integer or out of range');
  t.is(await call('XPENDING', 'x', 'g', 'a', '+', '10'), INVALID);
  t.is(await call('XPENDING', 'x', 'nog'), "-NOGROUP No such key 'x' or consumer group 'nog'");
  t.is(await call('XPENDING', 'str', 'g'), WRONG);
});

test.serial('XCLAIM (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID; deleted entries dropped) and its errors', async (t) => {
  for (const id of ['1', '2', '3', '4', '5']) await call('XADD', 'x', id, 'f', id);
  await call('XGROUP', 'CREATE', 'x', 'g', '0');
  await call('XREADGROUP', 'GROUP', 'g', 'A', 'COUNT', '4', 'STREAMS', 'x', '>');
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'B', '0', '1', '2'), [['1-0', ['f', '1']], ['2-0', ['f', '2']]]);
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'B', '0', '3', 'JUSTID'), ['3-0']);
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'B', '0', '4', 'RETRYCOUNT', '7', 'IDLE', '100000', 'JUSTID'), ['4-0']);
  const pending = await call('XPENDING', 'x', 'g', '-', '+', '10') as Plain[][];
  t.deepEqual(pending.map((p) => [p[0], p[1], p[3]]), [['1-0', 'B', 2], ['2-0', 'B', 2], ['3-0', 'B', 1], ['4-0', 'B', 7]], 'JUSTID does not count a delivery');
  t.true((pending[3]![2] as number) >= 100000, 'IDLE sets the idle time');
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '1000000', '4'), [], 'not idle long enough');
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '0', '5'), [], 'not pending, no FORCE');
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '0', '5', 'FORCE', 'TIME', '1000'), [['5-0', ['f', '5']]]);
  const forced = (await call('XPENDING', 'x', 'g', '5', '5', '1') as Plain[][])[0]!;
  t.is(forced[1], 'C');
  t.true((forced[2] as number) > 1_000_000_000, 'TIME sets the delivery time');
  t.is(forced[3], 2);
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '0', '9', 'FORCE'), [], 'FORCE needs the entry in the stream');
  await call('XDEL', 'x', '2');
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '0', '2', '3', 'JUSTID'), ['3-0'], 'a deleted entry is dropped from the PEL');
  t.deepEqual(await call('XPENDING', 'x', 'g'), [4, '1-0', '5-0', [['B', '2'], ['C', '2']]]);
  t.deepEqual(await call('XCLAIM', 'x', 'g', 'C', '0', 'LASTID', '50'), []);
  t.is(fields((await call('XINFO', 'GROUPS', 'x') as Plain[])[0]!)['last-delivered-id'], '50-0');

  t.is(await call('XCLAIM', 'x', 'nog', 'C', '0', '1'), "-NOGROUP No such key 'x' or consumer group 'nog'");
  t.is(await call('XCLAIM', 'nokey', 'g', 'C', '0', '1'), "-NOGROUP No such key 'nokey' or consumer group 'g'");
  t.is(await call('XCLAIM', 'x', 'g', 'C', 'abc', '1'), '-ERR Invalid min-idle-time argument for XCLAIM');
  t.is(await call('XCLAIM', 'x', 'g', 'C', '0', '1', 'FOO'), "-ERR Unrecognized XCLAIM option 'FOO'");
  t.is(await call('XCLAIM', 'x', 'g', 'C', '0', '1', 'IDLE', 'x'), '-ERR Invalid IDLE option argument for XCLAIM');
  t.is(await call('XCLAIM', 'x', 'g', 'C', '0', '1', 'TIME', 'x'), '-ERR Invalid TIME option argument for XCLAIM');
  t.is(await call('XCLAIM', 'x', 'g', 'C', '0', '1', 'RETRYCOUNT', 'x'), '-ERR Invalid RETRYCOUNT option argument for XCLAIM');
  t.is(await call('XCLAIM', 'x', 'g', 'C', '0', '1', 'LASTID', 'x'), INVALID);
  t.is(await call('XCLAIM', 'str', 'g', 'C', '0', '1'), WRONG);
});

test.serial('XAUTOCLAIM: the cursor, COUNT, JUSTID and the deleted IDs (7.0 reply), and its errors', async (t) => {
  for (const id of ['1', '2', '3', '4', '5']) await call('XADD', 'x', id, 'f', id);
  await call('XGROUP', 'CREATE', 'x', 'g', '0');
  await call('XREADGROUP', 'GROUP', 'g', 'A', 'STREAMS', 'x', '>');
  t.deepEqual(await call('XAUTOCLAIM', 'x', 'g', 'B', '0', '0', 'COUNT', '2'), ['3-0', [['1-0', ['f', '1']], ['2-0', ['f', '2']]], []]);
  await call('XDEL', 'x', '3');
  t.deepEqual(await call('XAUTOCLAIM', 'x', 'g', 'B', '0', '3', 'COUNT', '2', 'JUSTID'), ['5-0', ['4-0'], ['3-0']]);
  t.deepEqual(await call('XAUTOCLAIM', 'x', 'g', 'C', '0', '(4'), ['0-0', [['5-0', ['f', '5']]], []]);
  t.deepEqual(await call('XAUTOCLAIM', 'x', 'g', 'C', '3600000', '0'), ['0-0', [], []], 'none idle an hour');
  t.deepEqual((await call('XPENDING', 'x', 'g', '-', '+', '10') as Plain[][]).map((p) => [p[0], p[1], p[3]]), [['1-0', 'B', 2], ['2-0', 'B', 2], ['4-0', 'B', 1], ['5-0', 'C', 2]]);

  t.is(await call('XAUTOCLAIM', 'x', 'g', 'C', 'x', '0'), '-ERR Invalid min-idle-time argument for XAUTOCLAIM');
  t.is(await call('XAUTOCLAIM', 'x', 'g', 'C', '0', 'x'), INVALID);
  t.is(await call('XAUTOCLAIM', 'x', 'g', 'C', '0', '0', 'COUNT', '0'), '-ERR COUNT must be > 0');
  t.is(await call('XAUTOCLAIM', 'x', 'g', 'C', '0', '0', 'COUNT', 'x'), '-ERR COUNT must be > 0');
  t.is(await call('XAUTOCLAIM', 'x', 'g', 'C', '0', '0', 'FOO'), '-ERR syntax error');
  t.is(await call('XAUTOCLAIM', 'x', 'nog', 'C', '0', '0'), "-NOGROUP No such key 'x' or consumer group 'nog'");
  t.is(await call('XAUTOCLAIM', 'str', 'g', 'C', '0', '0'), WRONG);
});

test.serial('XDEL, and XINFO STREAM (FULL, COUNT), GROUPS (entries-read, lag), CONSUMERS, HELP and their errors', async (t) => {
  await sixEntries();
  t.is(await call('XDEL', 'x', '100', '999'), 1);
  t.is(await call('XDEL', 'nokey', '1'), 0);
  t.is(await call('XDEL', 'x', '101', 'abc'), INVALID);
  t.is(await call('XDEL', 'str', '1'), WRONG);
  const info = fields(await call('XINFO', 'STREAM', 'x'));
  t.like(info, { length: 5, 'last-generated-id': '105-0', 'max-deleted-entry-id': '100-0', 'entries-added': 6, 'recorded-first-entry-id': '101-0', groups: 0 });
  t.deepEqual(info['first-entry'], ['101-0', ['b', '1']]);
  t.deepEqual(info['last-entry'], ['105-0', ['g', '1']]);

  await call('XGROUP', 'CREATE', 'x', 'g', '0');
  await call('XREADGROUP', 'GROUP', 'g', 'A', 'COUNT', '2', 'STREAMS', 'x', '>');
  t.deepEqual(fields((await call('XINFO', 'GROUPS', 'x') as Plain[])[0]!), { name: 'g', consumers: 1, pending: 2, 'last-delivered-id': '102-0', 'entries-read': 3, lag: 3 });
  await call('XDEL', 'x', '104');
  t.like(fields((await call('XINFO', 'GROUPS', 'x') as Plain[])[0]!), { 'entries-read': 3, lag: null }, 'a deleted entry ahead: the lag is not known');
  const consumers = (await call('XINFO', 'CONSUMERS', 'x', 'g') as Plain[]).map(fields);
  t.like(consumers[0], { name: 'A', pending: 2 });
  t.true((consumers[0]!.idle as number) >= 0);

  const full = fields(await call('XINFO', 'STREAM', 'x', 'FULL'));
  t.like(full, { length: 4, 'entries-added': 6, 'max-deleted-entry-id': '104-0' });
  t.deepEqual((full.entries as Plain[]).map((e) => (e as Plain[])[0]), ['101-0', '102-0', '103-0', '105-0']);
  const group = fields((full.groups as Plain[])[0]!);
  t.like(group, { name: 'g', 'last-delivered-id': '102-0', 'entries-read': 3, lag: null, 'pel-count': 2 });
  t.deepEqual((group.pending as Plain[][]).map((p) => [p[0], p[1], p[3]]), [['101-0', 'A', 1], ['102-0', 'A', 1]]);
  const consumer = fields((group.consumers as Plain[])[0]!);
  t.like(consumer, { name: 'A', 'pel-count': 2 });
  t.deepEqual((consumer.pending as Plain[][]).map((p) => [p[0], p[2]]), [['101-0', 1], ['102-0', 1]]);
  const one = fields(await call('XINFO', 'STREAM', 'x', 'FULL', 'COUNT', '1'));
  t.is((one.entries as Plain[]).length, 1);
  t.is((fields((one.groups as Plain[])[0]!).pending as Plain[]).length, 1);

  t.is(await call('XINFO', 'STREAM', 'nokey'), '-ERR no such key');
  t.is(await call('XINFO', 'STREAM', 'str'), WRONG);
  t.is(await call('XINFO', 'STREAM', 'x', 'FOO'), "-ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.");
  t.is(await call('XINFO', 'STREAM', 'x', 'FULL', 'COUNT', 'x'), '-ERR value is not an integer or out of range');
  t.is(await call('XINFO', 'CONSUMERS', 'x', 'nog'), "-NOGROUP No such consumer group 'nog' for key name 'x'");
  t.is(await call('XINFO', 'GROUPS'), "-ERR wrong number of arguments for 'xinfo|groups' command");
  t.is(await call('XINFO', 'FOO', 'x'), "-ERR unknown subcommand 'FOO'. Try XINFO HELP.");
  const help = await call('XINFO', 'HELP') as string[];
  t.is(help[0], '+XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  t.is(help.length, 9);
  // XRANGE's exclusive bounds and COUNT 0 (the nil array).
  t.deepEqual((await call('XRANGE', 'x', '(101', '(105-0') as Plain[][]).map((e) => e[0]), ['102-0', '103-0']);
  t.deepEqual((await call('XRANGE', 'x', '(103', '(105') as Plain[][]).map((e) => e[0]), ['105-0'], '(105 is 105-<max>, exclusive');
  t.is(await call('XRANGE', 'x', '-', '+', 'COUNT', '0'), null);
});

test.serial('COPY of a stream with groups: XINFO STREAM FULL of the copy equals the original, an independent copy', async (t) => {
  await sixEntries();
  await call('XGROUP', 'CREATE', 'x', 'g1', '0');
  await call('XGROUP', 'CREATE', 'x', 'g2', '0');
  await call('XREADGROUP', 'GROUP', 'g1', 'Alice', 'COUNT', '1', 'STREAMS', 'x', '>');
  await call('XREADGROUP', 'GROUP', 'g1', 'Bob', 'COUNT', '1', 'STREAMS', 'x', '>');
  await call('XREADGROUP', 'GROUP', 'g1', 'Bob', 'NOACK', 'COUNT', '1', 'STREAMS', 'x', '>');
  await call('XREADGROUP', 'GROUP', 'g2', 'Charlie', 'COUNT', '4', 'STREAMS', 'x', '>');
  await call('XGROUP', 'SETID', 'x', 'g1', '101');
  await call('XREADGROUP', 'GROUP', 'g1', 'Dave', 'COUNT', '3', 'STREAMS', 'x', '>');
  await call('XDEL', 'x', '103');
  t.is(await call('COPY', 'x', 'y'), 1);
  const info = await call('XINFO', 'STREAM', 'x', 'FULL');
  t.deepEqual(await call('XINFO', 'STREAM', 'y', 'FULL'), info);
  await call('DEL', 'x');
  t.deepEqual(await call('XINFO', 'STREAM', 'y', 'FULL'), info);
  await call('COPY', 'y', 'z');
  await call('XACK', 'z', 'g1', '102');
  await call('XGROUP', 'DELCONSUMER', 'z', 'g2', 'Charlie');
  t.deepEqual(await call('XINFO', 'STREAM', 'y', 'FULL'), info, 'the copy changed, not the original');
});

/** A connection subscribed to every keyspace event: the events received, as `key event`. */
async function subscriber(port: number): Promise<{ events(): Promise<string[]>; close(): void }> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  let got = '';
  socket.setEncoding('latin1').on('data', (d: string) => { got += d; });
  socket.write('PSUBSCRIBE __keyspace@0__:*\r\n');
  for (let i = 0; i < 100 && !got.includes('psubscribe'); i++) await sleep(50);
  return {
    async events() {
      await sleep(300);
      const out = [...got.matchAll(/pmessage\r\n\$\d+\r\n[^\r]*\r\n\$\d+\r\n__keyspace@0__:([^\r]*)\r\n\$\d+\r\n([^\r]*)\r\n/g)].map((m) => `${m[1]} ${m[2]}`);
      got = '';
      return out;
    },
    close: () => socket.destroy(),
  };
}

test.serial('keyspace events of class t: xgroup-create, -createconsumer, -setid, -delconsumer, -destroy, xdel, in Redis\'s order', async (t) => {
  await call('CONFIG', 'SET', 'notify-keyspace-events', 'Kt');
  const sub = await subscriber(port());
  t.teardown(() => sub.close());
  await call('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM');
  await call('XGROUP', 'CREATECONSUMER', 's', 'g', 'Bob');
  await call('XADD', 's', '1', 'f', 'A');
  await call('XREADGROUP', 'GROUP', 'g', 'Alice', 'STREAMS', 's', '>');
  await call('XCLAIM', 's', 'g', 'Mike', '0', '1', 'FORCE');
  await call('XGROUP', 'DELCONSUMER', 's', 'g', 'Lee'); // no such consumer: no event
  await call('XAUTOCLAIM', 's', 'g', 'Bob', '0', '1'); // Bob exists: no event
  await call('XGROUP', 'DELCONSUMER', 's', 'g', 'Bob');
  await call('XGROUP', 'SETID', 's', 'g', '0');
  await call('XDEL', 's', '9'); // nothing deleted: no event
  await call('XDEL', 's', '1');
  await call('XGROUP', 'DESTROY', 's', 'g');
  t.deepEqual(await sub.events(), ['s xgroup-create', 's xgroup-createconsumer', 's xadd', 's xgroup-createconsumer', 's xgroup-createconsumer',
    's xgroup-delconsumer', 's xgroup-setid', 's xdel', 's xgroup-destroy']);
  await call('CONFIG', 'SET', 'notify-keyspace-events', '');
});
