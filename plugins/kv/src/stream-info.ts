/** XINFO STREAM [FULL [COUNT n]], GROUPS, CONSUMERS, HELP (Redis 7.0). */
import { error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, key, parseInt64, unknownSubcommand, upper, wrongArity, type CommandTable, type Context } from './command.js';
import { lookupOf } from './collection.js';
import { byName, consumerPel, helpReply, inIdOrder, lag, ENTRIES_READ_UNKNOWN, type Group } from './stream-groups.js';
import { idString } from './stream-id.js';
import { entryReply, type Stream } from './streams.js';

const XINFO_HELP = [
  'CONSUMERS <key> <groupname>',
  '    Show consumers of <groupname>.',
  'GROUPS <key>',
  '    Show the stream consumer groups.',
  'STREAM <key> [FULL [COUNT <count>]',
  '    Show information about the stream.',
];
const XINFO_ARITY: Record<string, number> = { STREAM: -3, GROUPS: 3, CONSUMERS: 4, HELP: 2 };
/** Entries a node of Redis's radix tree holds (stream-node-max-entries). */
const NODE_ENTRIES = 100;

function xinfo(a: Buffer[], ctx: Context): Reply {
  const sub = upper(a[1]);
  const arity = XINFO_ARITY[sub];
  if (arity === undefined) return unknownSubcommand(a[1]!, 'XINFO');
  if (arity > 0 ? a.length !== arity : a.length < -arity) return wrongArity(`xinfo|${sub.toLowerCase()}`);
  if (sub === 'HELP') return helpReply(upper(a[0]), XINFO_HELP);
  const k = key(a[2]!);
  const stream = lookupOf<Stream>(ctx, k, 'stream');
  if (stream === undefined) return error('ERR no such key');
  if (sub === 'GROUPS') return byName(stream.groups).map(([name, g]) => groupInfo(stream, name, g));
  if (sub === 'CONSUMERS') {
    const g = stream.groups.get(key(a[3]!));
    if (g === undefined) return error(`NOGROUP No such consumer group '${key(a[3]!)}' for key name '${k}'`);
    const now = Date.now();
    return byName(g.consumers).map(([name, c]) => ['name', name, 'pending', c.pel.size, 'idle', Math.max(0, now - c.seenTime)]);
  }
  return streamInfo(a, stream);
}

const entriesRead = (g: Group): bigint | null => (g.entriesRead === ENTRIES_READ_UNKNOWN ? null : g.entriesRead);

function groupInfo(stream: Stream, name: string, g: Group): Reply {
  return ['name', name, 'consumers', g.consumers.size, 'pending', g.pel.size, 'last-delivered-id', idString(g.lastId),
    'entries-read', entriesRead(g), 'lag', lag(stream, g)];
}

function streamInfo(a: Buffer[], stream: Stream): Reply {
  const syntax = error(`ERR unknown subcommand or wrong number of arguments for '${key(a[1]!).slice(0, 128)}'. Try ${upper(a[0])} HELP.`);
  const full = a.length > 3;
  let count = 10;
  if (full) {
    if (a.length !== 4 && a.length !== 6) return syntax;
    if (upper(a[3]) !== 'FULL') return syntax;
    if (a.length === 6) {
      if (upper(a[4]) !== 'COUNT') return syntax;
      const n = parseInt64(a[5]!);
      if (n === undefined) return NOT_INTEGER;
      count = n < 0n ? 10 : Number(n);
    }
  }
  // The radix tree's sizes are estimated (kv keeps entries in an array): nodes of 100 entries.
  const keys = Math.ceil(stream.entries.length / NODE_ENTRIES);
  const head: Reply[] = ['length', stream.entries.length, 'radix-tree-keys', keys, 'radix-tree-nodes', keys <= 1 ? keys + 1 : Math.round(keys * 2.5) + 1,
    'last-generated-id', idString(stream.last), 'max-deleted-entry-id', idString(stream.maxDeleted),
    'entries-added', stream.entriesAdded, 'recorded-first-entry-id', idString(stream.first)];
  if (!full) {
    const first = stream.entries[0];
    const last = stream.entries[stream.entries.length - 1];
    return [...head, 'groups', stream.groups.size, 'first-entry', first === undefined ? null : entryReply(first),
      'last-entry', last === undefined ? null : entryReply(last)];
  }
  const upTo = <T>(list: T[]): T[] => (count === 0 ? list : list.slice(0, count));
  const groups = byName(stream.groups).map(([name, g]) => [
    'name', name, 'last-delivered-id', idString(g.lastId), 'entries-read', entriesRead(g), 'lag', lag(stream, g),
    'pel-count', g.pel.size,
    'pending', upTo(inIdOrder(g.pel.values())).map((p) => [idString(p.id), p.consumer, p.deliveryTime, p.deliveryCount]),
    'consumers', byName(g.consumers).map(([cname, c]) => [
      'name', cname, 'seen-time', c.seenTime, 'pel-count', c.pel.size,
      'pending', upTo(consumerPel(g, c)).map((p) => [idString(p.id), p.deliveryTime, p.deliveryCount]),
    ]),
  ]);
  return [...head, 'entries', upTo(stream.entries).map(entryReply), 'groups', groups];
}

export const STREAM_INFO: CommandTable = {
  xinfo: { arity: -2, run: xinfo },
};
