import { createRequire } from 'node:module';
import type { Logger } from 'pino';

// require(), not import: an ESM import of a CommonJS package runs Node's export lexer over it,
// hot enough at start-up to be optimised, which costs every worker megabytes of RSS.
const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');

export type { Logger };

/** One JSON line per event on stderr, written synchronously so nothing is lost at exit. */
export function createLogger(level: string, name?: string): Logger {
  return pino(
    { level, base: name ? { pid: process.pid, name } : { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}
