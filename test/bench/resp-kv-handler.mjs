// The bench's SET/GET store for the resp plugin (`npm run bench`, redis-* workloads): what
// redis-benchmark -t set,get sends, answered from a Map.
import { simple } from '@socketserver/plugin-resp';

const store = new Map();
const OK = simple('OK');
const PONG = simple('PONG');

/** Whether `arg` is `name` (upper case ASCII) in any case, compared byte by byte: no string is made. */
function is(arg, name) {
  if (arg.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = arg[i];
    if ((c >= 0x61 && c <= 0x7a ? c - 0x20 : c) !== name.charCodeAt(i)) return false;
  }
  return true;
}

// Keys as latin1 strings: one char per byte, so binary keys stay distinct (utf8 would merge
// invalid sequences) and no decoding is done. A value is copied: the message is a view of the
// read, which it would keep alive.
export default function handler(args) {
  const name = args[0];
  if (is(name, 'SET')) {
    store.set(args[1].toString('latin1'), Buffer.from(args[2]));
    return OK;
  }
  if (is(name, 'GET')) return store.get(args[1].toString('latin1')) ?? null;
  if (is(name, 'PING')) return PONG;
  if (is(name, 'CONFIG')) return []; // redis-benchmark asks for save/appendonly at start
  return OK;
}
