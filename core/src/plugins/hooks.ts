import { createRequire } from 'node:module';
import type { Tap } from 'tapable';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { startupStep } from './startup-step.js';
import type { Connection, Request } from '../net/connection.js';
import type { FailedConnection } from '../net/connection-set.js';
import type { Monitor, Worker, Info, InfoPlace } from './app.js';

// Only the three hook classes used, by require(): tapable's index loads all twelve, and the
// path work of resolving CommonJS files is what gets a worker's first optimising compile
// going at start-up (megabytes of RSS for an idle worker). See logger.ts too.
const requireCjs = createRequire(import.meta.url);
const SyncHook = requireCjs('tapable/lib/SyncHook.js') as typeof import('tapable').SyncHook;
const AsyncSeriesHook = requireCjs('tapable/lib/AsyncSeriesHook.js') as typeof import('tapable').AsyncSeriesHook;
const AsyncSeriesWaterfallHook = requireCjs('tapable/lib/AsyncSeriesWaterfallHook.js') as typeof import('tapable').AsyncSeriesWaterfallHook;
const SyncBailHook = requireCjs('tapable/lib/SyncBailHook.js') as typeof import('tapable').SyncBailHook;

/**
 * What a failing tap does, by hook: a start-up tap fails start-up (and has a time
 * limit); a guard tap (access control) refuses what it was asked; a rescue tap (handlerError)
 * rescues nothing, so the default, closing the connection, stands; any other tap is logged
 * with its plugin's name and skipped — a sync one at no extra cost per call, an async one
 * still awaited, a waterfall one passing its input on.
 */
const KIND = {
  monitorStart: 'startup',
  workerStart: 'startup',
  connectionMade: 'sync',
  preRequest: 'sync',
  postRequest: 'sync',
  connectionLost: 'sync',
  connectionFailed: 'sync',
  info: 'waterfall',
  workerStop: 'async',
  reopen: 'sync',
  subscribe: 'guard',
  publish: 'guard',
  handlerError: 'rescue',
} as const;

/** Per-connection and per-request taps are timed once in this many calls. */
export const TAP_SAMPLE_EVERY = 64;

/** One plugin's taps on one hook: calls, and the time of the sampled ones. */
export interface TapTime {
  calls: number;
  sampled: number;
  seconds: number;
}

/** Tap times by plugin name, then hook (sync hooks only: the ones called per connection or request). */
export type HookTimes = Map<string, Partial<Record<HookName, TapTime>>>;

export function createHooks() {
  return Object.freeze({
    /** Arbiter: sockets are bound, before workers spawn. */
    monitorStart: new AsyncSeriesHook<[Monitor]>(['monitor']),
    /** Worker: before it accepts connections. */
    workerStart: new AsyncSeriesHook<[Worker]>(['worker']),
    connectionMade: new SyncHook<[Connection]>(['connection']),
    preRequest: new SyncHook<[Request]>(['request']),
    postRequest: new SyncHook<[Request, unknown]>(['request', 'response']),
    connectionLost: new SyncHook<[Connection, Error | undefined]>(['connection', 'error']),
    /** Worker: a connection closed in an accept stage (PROXY header, TLS handshake), never served. */
    connectionFailed: new SyncHook<[FailedConnection, Error]>(['connection', 'error']),
    /**
     * Arbiter and workers: each tap may add to the info and returns it. `place` says which:
     * `'worker'` for a worker's entry, `'arbiter'` for the whole document.
     */
    info: new AsyncSeriesWaterfallHook<[Info, InfoPlace]>(['info', 'place']),
    /** Worker: after it stopped accepting and its connections are closed. */
    workerStop: new AsyncSeriesHook<[Worker]>(['worker']),
    /** Arbiter and workers: USR1 asked to reopen log files (logrotate moved them). */
    reopen: new SyncHook<[]>([]),
    /**
     * Worker: a connection asks to subscribe to a channel (`pattern` false) or a pattern. A tap
     * returning anything but undefined refuses it (a string says why); one that throws refuses too.
     */
    subscribe: new SyncBailHook<[Connection, Buffer, boolean], unknown>(['connection', 'channel', 'pattern']),
    /** Worker: a message is to be published on a channel, by a connection or not; refused as `subscribe` is. */
    publish: new SyncBailHook<[Buffer, unknown, Connection | undefined], unknown>(['channel', 'message', 'connection']),
    /**
     * Worker: a handler threw or rejected. The first tap returning anything but undefined gives
     * the reply (RESP's `-ERR …`, a line saying what went wrong) and the connection goes on;
     * with none, it is closed (handler_error), as without taps.
     */
    handlerError: new SyncBailHook<[Error, Request], unknown>(['error', 'request']),
  });
}

export type Hooks = ReturnType<typeof createHooks>;
export type HookName = keyof Hooks;

export interface GuardOptions {
  log: Logger;
  /** The plugin being applied when a tap is registered, to name it in errors. */
  currentPlugin(): string | undefined;
  /** Start-up hook time limit in milliseconds (0 = none). */
  startupTimeout(): number;
  /** Where sync taps' sampled times are kept. */
  times?: HookTimes;
  /** Told of every tap as it is registered: which plugin (or tap name) tapped which hook. */
  registered?(plugin: string, hook: HookName): void;
}

function who(tap: Tap, plugin: string | undefined): string {
  return plugin && plugin !== tap.name ? `plugin "${plugin}" (tap "${tap.name}")` : `plugin "${tap.name}"`;
}

/**
 * Wrap every tap as it is registered (a tapable `register` interceptor) so that a
 * failing tap is reported with the plugin's name: start-up hooks fail start-up (with a
 * time limit), the others log the error and carry on. Sync wrappers keep a fixed arity
 * so the per-request path allocates nothing.
 */
export function guardHooks(hooks: Hooks, opts: GuardOptions): void {
  for (const [hookName, hook] of Object.entries(hooks) as [HookName, Hooks[HookName]][]) {
    const kind = KIND[hookName];
    hook.intercept({
      register(tap: Tap & { fn: (...args: unknown[]) => unknown; type: string }) {
        const fn = tap.fn;
        const plugin = opts.currentPlugin();
        opts.registered?.(plugin ?? tap.name, hookName);
        const name = who(tap, plugin);
        const failed = (err: unknown) => `${name} failed in ${hookName}: ${errorMessage(err)}`;
        const report = (err: unknown) => opts.log.error({ plugin: plugin ?? tap.name, hook: hookName, err }, failed(err));
        if (kind === 'guard' || kind === 'rescue') {
          // A bail tap that fails: a guard refuses (access control fails closed), with its error as
          // the reason; a rescue answers nothing, so the default (closing) stands.
          const bail = (a: unknown, b: unknown, c: unknown) => {
            try {
              return fn(a, b, c);
            } catch (err) {
              report(err);
              return kind === 'guard' ? failed(err) : undefined;
            }
          };
          return { ...tap, fn: bail } as typeof tap;
        }
        if (kind === 'sync') {
          const call = (a: unknown, b: unknown) => {
            try {
              fn(a, b);
            } catch (err) {
              report(err);
            }
          };
          const time = tapTime(opts.times, plugin ?? tap.name, hookName);
          // One call in TAP_SAMPLE_EVERY is timed: a slow plugin shows in `ss top` for the price of a count.
          const run = (a: unknown, b: unknown) => {
            if (++time.calls % TAP_SAMPLE_EVERY !== 0) return call(a, b);
            const started = performance.now();
            call(a, b);
            time.sampled++;
            time.seconds += (performance.now() - started) / 1000;
          };
          return { ...tap, fn: run } as typeof tap;
        }
        // Whatever the tap's own style (tap, tapAsync, tapPromise), call it as a promise.
        // `rest`: the hook's other arguments (info's place), passed on as they came.
        const call = (arg: unknown, rest: unknown[]): Promise<unknown> => tap.type === 'async'
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the tap's error, as it came
          ? new Promise((resolve, reject) => fn(arg, ...rest, (err: unknown, value: unknown) => (err ? reject(err) : resolve(value))))
          : Promise.resolve().then(() => fn(arg, ...rest));
        let run: (arg: unknown, ...rest: unknown[]) => Promise<unknown>;
        if (kind === 'startup') {
          run = (arg, ...rest) => startupStep(() => call(arg, rest), opts.startupTimeout(), name, hookName).then(() => undefined);
        } else if (kind === 'waterfall') {
          run = (arg, ...rest) => call(arg, rest).then((out) => (out === undefined ? arg : out), (err) => { report(err); return arg; });
        } else {
          run = (arg, ...rest) => call(arg, rest).then(() => undefined, report);
        }
        return { ...tap, type: 'promise', fn: run } as typeof tap;
      },
    } as never);
  }
}

/** The time entry of `plugin`'s taps on `hook` (shared when a plugin taps a hook twice). */
function tapTime(times: HookTimes | undefined, plugin: string, hook: HookName): TapTime {
  const fresh: TapTime = { calls: 0, sampled: 0, seconds: 0 };
  if (times === undefined) return fresh;
  let byHook = times.get(plugin);
  if (byHook === undefined) times.set(plugin, byHook = {});
  return (byHook[hook] ??= fresh);
}
