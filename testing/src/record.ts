import type { App, Connection, ConnectionSet, Handler, Request } from '@socketserver/core';

/** One call of a hook, with the arguments it was called with. */
export interface HookCall {
  readonly name: string;
  readonly args: unknown[];
}

/** A request as the handler got it: whether it answered with a promise, and the pushes sent before its reply took its place. */
interface Dispatched {
  readonly request: Request;
  async: boolean;
  pushesBefore: number;
}

/** What one inject saw of its server: the hook calls, and the requests in the order they were dispatched. */
export class Recording {
  readonly hooks: HookCall[] = [];
  readonly dispatched: Dispatched[] = [];
  readonly byRequest = new Map<Request, Dispatched>();

  /**
   * For each message the server wrote, in order, whether it was a push (true) or a reply. A
   * reply takes its place in the output once its handler returns a promise, or else once the
   * reply is made (after the postRequest taps); a push sent before that goes out before it,
   * one sent after, after it (connection.ts: the batch, and the queue behind async replies).
   */
  kinds(connection: Connection, encodesNull: boolean): boolean[] {
    const kinds: boolean[] = [];
    let sent = 0;
    for (const { request, pushesBefore } of this.dispatched) {
      for (; sent < pushesBefore; sent++) kinds.push(true);
      const response = request.response;
      if (response !== undefined && (response !== null || encodesNull)) kinds.push(false);
    }
    for (; sent < connection.pushes; sent++) kinds.push(true);
    return kinds;
  }
}

const TAP = '@socketserver/testing';

interface Instrumented {
  readonly recordings: Map<ConnectionSet, Recording>;
}

const instrumented = new WeakMap<App, Instrumented>();

/** A hook as the recorder taps it, whatever its kind. */
interface AnyHook {
  readonly _args?: readonly string[];
  tap(options: { name: string; stage: number }, fn: (...args: unknown[]) => unknown): void;
}

function isThenable(value: unknown): boolean {
  if (value instanceof Promise) return true;
  try {
    return value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && typeof (value as PromiseLike<unknown>).then === 'function';
  } catch {
    return false; // a `then` that throws: the server fails the request as it reads it
  }
}

/**
 * Tap every hook of `app` (first, so that a bail hook's call is seen before a plugin answers it)
 * and wrap its handler, once: each inject's server gets its calls from then on. Before a server
 * is made of it: a server takes the handler and the tapped hooks as it starts.
 */
export function instrument(app: App): Instrumented {
  const known = instrumented.get(app);
  if (known !== undefined) return known;
  const recordings = new Map<ConnectionSet, Recording>();
  /** The recordings a call belongs to: its connection's server's, else (no connection in its arguments) every one. */
  const recordingsOf = (args: readonly unknown[]): Recording[] => {
    for (const arg of args) {
      if (arg === null || typeof arg !== 'object') continue;
      const a = arg as { server?: unknown; connection?: { server?: unknown }; stats?: unknown };
      for (const server of [a.server, a.connection?.server, a.stats]) {
        const recording = recordings.get(server as ConnectionSet);
        if (recording !== undefined) return [recording];
      }
    }
    return [...recordings.values()];
  };
  for (const [name, hook] of Object.entries(app.hooks) as [string, AnyHook][]) {
    const arity = hook._args?.length;
    hook.tap({ name: TAP, stage: -Infinity }, (...args: unknown[]) => {
      const call = { name, args: arity === undefined ? args : args.slice(0, arity) };
      for (const recording of recordingsOf(args)) recording.hooks.push(call);
      return undefined;
    });
  }
  // Last: a reply made at once takes its place after what the postRequest taps pushed.
  app.hooks.postRequest.tap({ name: TAP, stage: Infinity }, (request) => {
    const dispatched = recordings.get(request.connection.server)?.byRequest.get(request);
    if (dispatched !== undefined && !dispatched.async) dispatched.pushesBefore = request.connection.pushes;
  });
  const handler = app.handler;
  app.handler = function recorded(this: unknown, message: unknown, request: Request): ReturnType<Handler> {
    const recording = recordings.get(request.connection.server);
    if (recording === undefined) return handler.call(this, message, request);
    const dispatched: Dispatched = { request, async: false, pushesBefore: 0 };
    recording.dispatched.push(dispatched);
    recording.byRequest.set(request, dispatched);
    let result: unknown;
    try {
      result = handler.call(this, message, request);
      return result;
    } finally {
      dispatched.async = isThenable(result);
      dispatched.pushesBefore = request.connection.pushes;
    }
  };
  const made = { recordings };
  instrumented.set(app, made);
  return made;
}
