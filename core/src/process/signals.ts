// What each signal does, by the process that gets it: the arbiter, a server serving in its own
// process (workers 0), and a worker. One table each, side by side.
import type { StopMode } from './app-server.js';

/** What a signal asks of the arbiter. */
export type ArbiterAction = StopMode | 'reload' | 'more' | 'fewer' | 'reopen';

/** What each signal asks of the arbiter (docs/design.md §8). Workers ignore SIGINT and obey the arbiter. */
export const ARBITER_SIGNALS: Readonly<Record<string, ArbiterAction>> = {
  SIGTERM: 'graceful', // stop accepting, finish in-flight requests, close idle connections, force after graceful_timeout
  SIGINT: 'quick',
  SIGQUIT: 'quick',
  SIGHUP: 'reload', // re-read config and plugins, start new workers, drain the old ones
  SIGTTIN: 'more', // one worker more (in every server)
  SIGTTOU: 'fewer', // one worker fewer, never below one
  SIGUSR1: 'reopen', // reopen log files in every process (logrotate)
};

/** Signals and what they do to a server serving in its own process (workers 0). */
export const SINGLE_PROCESS_SIGNALS: Readonly<Record<string, StopMode | 'ignored' | 'reopen'>> = {
  SIGTERM: 'graceful', // stop accepting, finish in-flight requests, close, force after graceful_timeout
  SIGINT: 'quick',
  SIGQUIT: 'quick',
  // Reload and resizing need worker processes; without these handlers the signals would kill us.
  // With TLS, HUP reloads the certificates in place.
  SIGHUP: 'ignored',
  SIGTTIN: 'ignored',
  SIGTTOU: 'ignored',
  SIGUSR1: 'reopen', // reopen log files (logrotate)
};

/**
 * Signals meant for the arbiter that also reach workers when sent to the process group (a
 * terminal's ^C, `kill -HUP -PGID`): by default they would kill (INT, HUP) or stop (TTIN,
 * TTOU) every worker. The arbiter decides; workers obey it. A worker's own: TERM (graceful
 * stop), QUIT (quick stop), USR1 (reopen), as the arbiter would ask.
 */
export const SIGNALS_WORKERS_IGNORE = ['SIGINT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const;
