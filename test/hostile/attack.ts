import type { BystanderSpec } from './bystander.js';
import type { Server } from './server.js';

/** What an attack gets while it runs. */
export interface Ctx {
  ss: Server;
  /** The server's first TCP port (0 when it binds none). */
  port: number;
  /** A folder of its own, removed afterwards. */
  dir: string;
  /** Aborted when the attack's time is up or the process tree passed the RSS bound. */
  signal: AbortSignal;
  /** A fact for the attack's line ("sent 230 MiB, closed by the server"). */
  note(text: string): void;
  /** A check of the attack's own; a false one fails the attack. */
  check(text: string, ok: boolean): void;
  /** State the attack keeps between its steps. */
  state: Record<string, unknown>;
}

/** One row of the table: a fresh server, a bystander on it, and what the hostile client does. */
export interface Attack {
  /** Its row of issue 17 ("1"), with a letter for a row made of two attacks ("2a"). */
  id: string;
  title: string;
  /** `ss serve` arguments (`--bind 127.0.0.1:0` is added unless there is a bind). */
  args(dir: string): string[];
  /** A setting not at its default, and why ("--max-connections-per-ip 100: off by default"). */
  said?: string;
  env?: Record<string, string | undefined>;
  /** The server's stderr is a pipe nobody reads once it serves (else it is read here). */
  unreadStderr?: boolean;
  /** Worker deaths the attack causes on purpose (a loop blocked past --timeout); others fail it. */
  deaths?: number;
  /** Before the bystander and the memory watch start: load keys, learn a worker's pid. */
  prepare?(ctx: Ctx): Promise<void>;
  bystander(ctx: Ctx): BystanderSpec;
  /** The attack, bounded in bytes and by `ctx.signal`. */
  run(ctx: Ctx): Promise<void>;
}

/** Seconds an attack may run before its signal is aborted (each stops itself within about 20 s). */
export const ATTACK_S = 30;
