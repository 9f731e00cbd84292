import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON line per event on stderr, written synchronously so nothing is lost at exit. */
export function createLogger(level: string, name?: string): Logger {
  return pino(
    { level, base: name ? { pid: process.pid, name } : { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}
