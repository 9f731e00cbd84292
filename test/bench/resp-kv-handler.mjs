// The bench's SET/GET store for the resp plugin (`npm run bench`, redis-* workloads): what
// redis-benchmark -t set,get sends, answered from a Map.
import { simple } from '@socketserver/plugin-resp';

const store = new Map();
const OK = simple('OK');
const PONG = simple('PONG');

// Keys as latin1 strings: one char per byte, so binary keys stay distinct (utf8 would merge
// invalid sequences) and no decoding is done.
export default function handler(args) {
  const name = args[0].toString('latin1');
  switch (name.length <= 6 ? name.toUpperCase() : '') {
    case 'SET': store.set(args[1].toString('latin1'), Buffer.from(args[2])); return OK;
    case 'GET': return store.get(args[1].toString('latin1')) ?? null;
    case 'PING': return PONG;
    case 'CONFIG': return []; // redis-benchmark asks for save/appendonly at start
    default: return OK;
  }
}
