/** Figures of INFO commandstats and errorstats, per process, reset by CONFIG RESETSTAT. */
import type { ErrorReply } from '@socketserver/plugin-resp';
import type { Command } from './command.js';

/**
 * A command as execute() finds it: its lower-case name and its own counters, so counting a
 * call is a field increment, not a lookup by name.
 */
export class CommandEntry {
  calls = 0;
  /** Calls timed (one in TIMED_EVERY) and the milliseconds they took (their synchronous part). */
  timed = 0;
  ms = 0;
  /** Refused before running (arity, subscribed context), and run but answered with an error. */
  rejected = 0;
  failed = 0;
  constructor(readonly name: string, readonly cmd: Command) {}
}

/** One call in this many is timed (a power of two): INFO's usec is estimated from them. */
export const TIMED_EVERY = 16;

/** Microseconds spent in a command, estimated from its timed calls. */
export function usecOf(e: CommandEntry): number {
  return e.timed === 0 ? 0 : Math.round((e.ms * 1000 * e.calls) / e.timed);
}

/** Every command's entry (one per command, whatever names it is found under). */
export const ENTRIES: CommandEntry[] = [];

/** Most distinct error codes counted (Redis's 128); beyond, errors are counted in the total only. */
const MAX_ERROR_CODES = 128;
const errors = new Map<string, number>();
let totalErrors = 0;

/** An error reply sent: counted by its code (its first word, as Redis: ERR, WRONGTYPE…). */
export function countError(reply: ErrorReply): void {
  totalErrors++;
  const space = reply.message.indexOf(' ');
  const code = space === -1 ? reply.message : reply.message.slice(0, space);
  const n = errors.get(code);
  if (n !== undefined) errors.set(code, n + 1);
  else if (errors.size < MAX_ERROR_CODES) errors.set(code, 1);
}

/** `errorstat_<code>:count=<n>` lines, codes in byte order (Redis keeps them in a radix tree). */
export function errorLines(): string[] {
  return [...errors.keys()].sort().map((code) => `errorstat_${code}:count=${errors.get(code)!}`);
}

export function totalErrorReplies(): number {
  return totalErrors;
}

export function resetStats(): void {
  for (const e of ENTRIES) e.calls = e.timed = e.ms = e.rejected = e.failed = 0;
  errors.clear();
  totalErrors = 0;
}
