import type { Info, WorkerInfo } from '../plugins/app.js';
import type { Found } from '../plugins/discovery.js';
import { errorMessage, type ErrorLocation } from '../errors.js';
import type { StatsSnapshot } from '../net/connection-set.js';
import type { StopMode } from './single-process.js';
import { isStatsSnapshot } from './worker-stats.js';
import type { RelayFromWorker, RelayOp, RelayToWorker } from './pubsub-relay.js';

/** What a worker needs to build its server itself (docs/design.md §8: every worker loads the config and plugins). */
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
  /** The config file and plugin modules the arbiter found: the worker loads them without searching. */
  readonly found: Found;
  /** Session ticket keys (48 bytes, base64), the same for every worker of the server: a ticket resumes on any of them. */
  readonly ticketKeys: string;
  /** The server's origin for pub/sub across hosts (hex, the same for every worker): see pubsub-redis.ts. */
  readonly origin: string;
}

/**
 * Arbiter → worker. `conn` carries a client connection as its handle; `listen` a listening
 * socket of the worker's slot (shared or reuse-port, see ListenSlots), which the worker accepts on until it
 * stops; with `keep`, the worker sends a descriptor of it back (`kept`) for the arbiter to hold.
 * `quiesce`: a stop with accept_grace is coming; refuse health checks (PROXY LOCAL) from now on.
 */
export type ToWorker =
  | { readonly t: 'boot'; readonly boot: WorkerBoot }
  | { readonly t: 'conn' }
  | { readonly t: 'listen'; readonly keep: boolean }
  /** A udp:// socket the arbiter bound (sent with it): the worker reads its datagrams too. */
  | { readonly t: 'dgram'; readonly bound: string }
  | { readonly t: 'stop'; readonly mode: StopMode; readonly linger?: boolean }
  | { readonly t: 'info'; readonly req: number }
  | { readonly t: 'reopen' }
  | { readonly t: 'quiesce' }
  | RelayToWorker;

/**
 * Worker → arbiter. `took`: the worker has taken over the next `n` connections sent to it.
 * `stats`: its counters now (App.reportStats), the last of them sent after its drain.
 */
export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'beat' }
  | { readonly t: 'took'; readonly n: number }
  | { readonly t: 'retire'; readonly requests: number }
  | { readonly t: 'kept' }
  | { readonly t: 'info'; readonly req: number; readonly info: WorkerInfo }
  | { readonly t: 'stats'; readonly stats: StatsSnapshot }
  | { readonly t: 'failed'; readonly message: string; readonly location?: ErrorLocation }
  | RelayFromWorker;

const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** The fields each message from a worker must have, and their check. */
const FIELDS: Readonly<Record<FromWorker['t'], Readonly<Record<string, (v: unknown) => boolean>>>> = {
  ready: {},
  beat: {},
  took: { n: (v) => count(v) && (v as number) > 0 },
  retire: { requests: count },
  kept: {},
  info: { req: count, info: (v) => v !== null && typeof v === 'object' && !Array.isArray(v) },
  stats: { stats: isStatsSnapshot },
  failed: { message: (v) => typeof v === 'string', location: (v) => v === undefined || isLocation(v) },
  ps: { m: (v) => Array.isArray(v) && v.every(isRelayOp) },
};

/** Where a worker's start-up failed in the user's code (errors.ts), as the arbiter prints it. */
function isLocation(v: unknown): boolean {
  return v !== null && typeof v === 'object' && typeof (v as ErrorLocation).at === 'string' && typeof (v as ErrorLocation).text === 'string';
}

/** The fields of each relay message in a `ps` batch, and their check. */
const RELAY_FIELDS: Readonly<Record<RelayOp['t'], Readonly<Record<string, (v: unknown) => boolean>>>> = {
  'ps-interest': { kind: (v) => v === 'channel' || v === 'pattern', key: (v) => typeof v === 'string', on: (v) => typeof v === 'boolean' },
  'ps-pub': { id: count, key: (v) => typeof v === 'string', msg: isWire },
  'ps-done': { id: count, n: count },
};

function isRelayOp(m: unknown): boolean {
  return hasFields(m, RELAY_FIELDS);
}

/** `m` is an object whose `t` is a key of `fields`, with each field that `t` needs passing its check. */
function hasFields(m: unknown, fields: Readonly<Record<string, Readonly<Record<string, (v: unknown) => boolean>>>>): boolean {
  if (m === null || typeof m !== 'object') return false;
  const t = (m as { t?: unknown }).t;
  if (typeof t !== 'string' || !Object.hasOwn(fields, t)) return false;
  for (const [field, ok] of Object.entries(fields[t]!)) if (!ok((m as Record<string, unknown>)[field])) return false;
  return true;
}

/** A relayed pub/sub message: exactly one of text, base64 bytes or a JSON value. */
function isWire(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1) return false;
  const [k] = keys;
  const value = (v as Record<string, unknown>)[k!];
  return k === 'j' || ((k === 's' || k === 'b') && typeof value === 'string');
}

/**
 * A message from a worker, checked: plugins run in workers and can `process.send` anything,
 * so the arbiter believes only a known shape (undefined for anything else).
 */
export function fromWorker(m: unknown): FromWorker | undefined {
  return hasFields(m, FIELDS) ? m as FromWorker : undefined;
}

/** The first line of why encoding failed (a cycle's message goes on over several). */
function noteOf(err: unknown): string {
  try { return errorMessage(err).split('\n')[0]!; } catch { return 'cannot encode'; }
}

/** `value` as JSON; a part JSON cannot hold (a BigInt, a cycle, a throwing getter) becomes an error note. */
function jsonPart(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    return JSON.stringify({ error: `not JSON: ${noteOf(err)}` });
  }
}

/**
 * An info document (or entry) as JSON text, whatever `info` taps put in it: a top-level key whose
 * value JSON cannot encode is replaced by `{ "error": "not JSON: ..." }`, so one bad tap
 * neither crashes the process nor hides the rest of the document.
 */
export function infoJson(doc: Info): string {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return JSON.stringify({ error: 'the info taps did not return an object' });
  try {
    return JSON.stringify(doc);
  } catch {
    try {
      const parts: string[] = [];
      for (const key of Object.keys(doc)) parts.push(`${JSON.stringify(key)}:${jsonPart(doc[key])}`);
      return `{${parts.join(',')}}`;
    } catch (err) {
      return JSON.stringify({ error: `info is not JSON: ${noteOf(err)}` });
    }
  }
}
