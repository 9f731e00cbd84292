// The bench's SET/GET store for the resp plugin (`npm run bench`, redis-* workloads): what
// redis-benchmark -t set,get sends, answered from a Map.
import { simple } from '@socketserver/plugin-resp';

const store = new Map();
const OK = simple('OK');
const PONG = simple('PONG');

export default function handler(args) {
  switch (String(args[0]).toUpperCase()) {
    case 'SET': store.set(String(args[1]), Buffer.from(args[2])); return OK;
    case 'GET': return store.get(String(args[1])) ?? null;
    case 'PING': return PONG;
    case 'CONFIG': return []; // redis-benchmark asks for save/appendonly at start
    default: return simple('OK');
  }
}
