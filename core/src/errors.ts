/**
 * The three kinds of failure the project distinguishes, each with its own reaction:
 * a user's mistake (exit 2, one line), a failure to start (exit 1), and malformed
 * network input (that connection is closed, everyone else is served).
 */

/** Where in the user's own code (a plugin's, a handler's) a failure came from: config/error-location.ts finds it. */
export interface ErrorLocation {
  /** FILE:LINE:COLUMN, the file relative to the working directory when inside it. */
  readonly at: string;
  /** The lines printed under the failure's one line: the user's stack frames and the code at the first. */
  readonly text: string;
}

/** A mistake on the command line, in the environment or in a config file: exit 2, one line, no stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/** The server could not start (address in use, a plugin failing at boot): exit 1. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly exitCode = 1;
  /** Printed under the message: the place in the user's code (a plugin's, a handler's), never ss's own stack. */
  readonly location: ErrorLocation | undefined;

  constructor(message: string, options?: { readonly location?: ErrorLocation | undefined }) {
    super(message);
    this.location = options?.location;
  }
}

/**
 * Malformed or over-long input from a client. Thrown by a protocol's decode; closes that connection.
 * `reply`, if given, is written to the client after the replies it is owed, before the close
 * (a protocol whose clients expect to be told why, as Redis's `-ERR Protocol error: ...`).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly reply: Buffer | string | undefined;

  constructor(message: string, options?: { readonly reply?: Buffer | string }) {
    super(message);
    this.reply = options?.reply;
  }
}

/** What was thrown, as text: even a value whose conversion to text throws (`Object.create(null)`). */
export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return 'a value that cannot be printed';
  }
}

/** A subscribe or publish that a `subscribe` or `publish` tap refused; the message says why. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}
