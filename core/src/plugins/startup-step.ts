import { StartupError, errorMessage } from '../errors.js';
import { errorLocation } from '../config/error-location.js';

/** `promise`, or a `StartupError` with `message()` if it takes longer than `ms` (0 = no limit). */
export function timeLimit<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  if (ms <= 0) return promise;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartupError(message())), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * One step of start-up done by a plugin (`apply`, a `monitorStart` or `workerStart` tap):
 * a failure or a time-out becomes a `StartupError` naming `who` and `step`.
 */
export function startupStep<T>(run: () => T | Promise<T>, ms: number, who: string, step: string): Promise<T> {
  return timeLimit(Promise.resolve().then(run), ms, () => `${who} did not finish ${step} within ${ms / 1000}s`)
    .catch((err: unknown) => {
      throw err instanceof StartupError ? err : new StartupError(`${who} failed in ${step}: ${errorMessage(err)}`, { location: errorLocation(err) });
    });
}
