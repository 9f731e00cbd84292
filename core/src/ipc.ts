import type { Address } from './address.js';
import type { Info } from './app.js';
import type { StopMode } from './serve.js';

/** What a worker needs to build its server itself (design §8: every worker loads the config and plugins). */
export interface WorkerBoot {
  readonly cwd: string;
  /** The command line, by long flag, as the arbiter parsed it. */
  readonly cli: Readonly<Record<string, unknown>>;
  readonly builtinDirs: readonly string[];
  /** The server's key in the config's `servers`. */
  readonly server: string | undefined;
  readonly name: string;
  /** Slot number, 1..workers: in the process title and info. */
  readonly id: number;
  /** Seconds between heartbeats (a fraction of timeout). */
  readonly beat: number;
  /** TCP addresses, with their real ports, that the worker listens on itself (reuse-port); index = the arbiter's listener. */
  readonly reusePort: readonly (Address | null)[];
}

/** Arbiter → worker. A `conn` message carries a client socket as its handle. */
export type ToWorker =
  | { readonly t: 'boot'; readonly boot: WorkerBoot }
  | { readonly t: 'conn' }
  | { readonly t: 'stop'; readonly mode: StopMode }
  | { readonly t: 'info'; readonly req: number };

/** Worker → arbiter. */
export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'beat' }
  | { readonly t: 'retire'; readonly requests: number }
  | { readonly t: 'info'; readonly req: number; readonly info: Info }
  | { readonly t: 'failed'; readonly message: string };
