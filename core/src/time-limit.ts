import { StartupError } from './errors.js';

/** `promise`, or a `StartupError` with `message()` if it takes longer than `ms` (0 = no limit). */
export function timeLimit<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  if (ms <= 0) return promise;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartupError(message())), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
