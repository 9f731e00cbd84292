import type { Info } from '../plugins/app.js';
import type { StopMode } from './single-process.js';

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
}

/**
 * Arbiter → worker. `conn` carries a client connection as its handle; `listen` a listening
 * socket of the worker's slot (shared or reuse-port, see ListenSlots), which the worker accepts on until it
 * stops; with `keep`, the worker sends a descriptor of it back (`kept`) for the arbiter to hold.
 */
export type ToWorker =
  | { readonly t: 'boot'; readonly boot: WorkerBoot }
  | { readonly t: 'conn' }
  | { readonly t: 'listen'; readonly keep: boolean }
  | { readonly t: 'stop'; readonly mode: StopMode }
  | { readonly t: 'info'; readonly req: number };

/** Worker → arbiter. */
export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'beat' }
  | { readonly t: 'retire'; readonly requests: number }
  | { readonly t: 'kept' }
  | { readonly t: 'info'; readonly req: number; readonly info: Info }
  | { readonly t: 'failed'; readonly message: string };
