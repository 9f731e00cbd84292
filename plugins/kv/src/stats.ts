/** Figures of INFO commandstats and errorstats, per process, reset by CONFIG RESETSTAT. */
import type { ErrorReply } from '@socketserver/plugin-resp';
import type { Command } from './command.js';

/**
 * A command as execute() finds it: its lower-case name and its own counters, so counting a
 * call is a field increment, not a lookup by name.
 */
export class CommandEntry {
  calls = 0;
  /** Milliseconds spent in the command (its synchronous part). */
  ms = 0;
  /** Refused before running (arity, subscribed context), and run but answered with an error. */
  rejected = 0;
  failed = 0;
  constructor(readonly name: string, readonly cmd: Command) {}
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
  for (const e of ENTRIES) e.calls = e.ms = e.rejected = e.failed = 0;
  errors.clear();
  totalErrors = 0;
}
