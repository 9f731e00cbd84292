import { ALLOW_FORMS, type Address, type AllowEntry, BIND_FORMS, parseAddress, parseAllowEntry } from '../address.js';

/**
 * Value types a setting may declare. Each turns what a user wrote (a command-line
 * string, an environment string, or a config value) into the typed value, or throws
 * `InvalidValue` saying what it accepts.
 */
export const SETTING_TYPES = ['string', 'int', 'seconds', 'bytes', 'enum', 'bind', 'path', 'plugins', 'handler', 'allow'] as const;
export type SettingType = typeof SETTING_TYPES[number];

export class InvalidValue extends Error {
  constructor(readonly accepts: string, readonly detail?: string) {
    super(detail ? `${detail}; expected ${accepts}` : `expected ${accepts}`);
  }
}

export interface TypeOptions {
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};

function range(min: number | undefined, max: number | undefined, unit = ''): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}${unit}`;
  if (min !== undefined) return `>= ${min}${unit}`;
  return max !== undefined ? `<= ${max}${unit}` : '';
}

function inRange(n: number, o: TypeOptions): boolean {
  return (o.min === undefined || n >= o.min) && (o.max === undefined || n <= o.max);
}

function parseInt_(raw: unknown, o: TypeOptions): number {
  const accepts = `a whole number ${range(o.min, o.max)}`.trim();
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || !inRange(n, o)) throw new InvalidValue(accepts);
  return n;
}

/**
 * Seconds go into timers, and setTimeout fires at once for anything over 2^31-1 ms
 * (about 24.8 days). A longer value is refused rather than clamped: silently changing what
 * the user wrote would surprise, and the settings that can wait for ever say so with 0.
 */
export const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Durations as people write them: 30, 30s, 1.5m, 500ms, 2h. */
const SECONDS_IN: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600 };

export function parseSeconds(raw: unknown, o: TypeOptions = {}): number {
  const min = o.min ?? 0;
  const max = Math.min(o.max ?? MAX_SECONDS, MAX_SECONDS);
  const accepts = `a number of seconds ${range(min, max)}, or a duration such as 500ms, 30s, 5m or 1h`;
  let n = NaN;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|)$/i.exec(raw.trim());
    if (m) n = Number(m[1]) * SECONDS_IN[m[2]!.toLowerCase()]!;
  }
  if (!Number.isFinite(n) || !inRange(n, { min, max })) throw new InvalidValue(accepts);
  return n;
}

/** Sizes as people write them: 65536, 64kb, 64k, 1mb, 1MiB (powers of 1024). */
export function parseBytes(raw: unknown, o: TypeOptions = {}): number {
  const accepts = `a size such as 65536, 64kb or 1mb ${range(o.min ?? 1, o.max, ' bytes')}`;
  let n = NaN;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) n = Math.floor(Number(m[1]) * unit);
  }
  if (!Number.isSafeInteger(n) || !inRange(n, { min: o.min ?? 1, max: o.max })) throw new InvalidValue(accepts);
  return n;
}

function parseString(raw: unknown, accepts = 'a non-empty string'): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new InvalidValue(accepts);
  return raw;
}

function parseBind(raw: unknown): Address {
  if (typeof raw !== 'string') throw new InvalidValue(BIND_FORMS);
  try {
    return parseAddress(raw.trim());
  } catch (err) {
    throw new InvalidValue(BIND_FORMS, (err as Error).message);
  }
}

function parseAllow(raw: unknown): AllowEntry {
  if (typeof raw !== 'string') throw new InvalidValue(ALLOW_FORMS);
  try {
    return parseAllowEntry(raw);
  } catch (err) {
    throw new InvalidValue(ALLOW_FORMS, (err as Error).message);
  }
}

/** Types whose repeatable settings also take a comma-separated list in one value (as `SS_*` variables always do). */
export const COMMA_LISTS: ReadonlySet<SettingType> = new Set(['allow']);

/** A plugin reference: a name or path, or (in a config file) `[name, options]`. */
export type PluginSpec = string | readonly [string, Readonly<Record<string, unknown>>];

function parsePluginSpec(raw: unknown): PluginSpec {
  const accepts = 'a plugin name or path, or [name, { options }]';
  if (typeof raw === 'string' && raw.trim() !== '') return raw.trim();
  if (Array.isArray(raw) && raw.length === 2 && typeof raw[0] === 'string' &&
      raw[1] !== null && typeof raw[1] === 'object' && !Array.isArray(raw[1])) {
    return [raw[0], raw[1] as Record<string, unknown>];
  }
  throw new InvalidValue(accepts);
}

/** Any function, called with arguments its caller knows (a handler from a config file). */
export type AnyFunction = (...args: never[]) => unknown;

/** A handler: a module path whose default export is the handler, or (in a config file) the function. */
function parseHandler(raw: unknown): string | AnyFunction {
  if (typeof raw === 'function') return raw as AnyFunction;
  return parseString(raw, 'a module path whose default export is the handler');
}

/** Parse one value (one element, for settings that take several). */
export function parseOne(type: SettingType, raw: unknown, o: TypeOptions): unknown {
  switch (type) {
    case 'string': case 'path': return parseString(raw);
    case 'int': return parseInt_(raw, o);
    case 'seconds': return parseSeconds(raw, o);
    case 'bytes': return parseBytes(raw, o);
    case 'enum': {
      const choices = o.choices ?? [];
      if (typeof raw !== 'string' || !choices.includes(raw)) throw new InvalidValue(`one of ${choices.join(', ')}`);
      return raw;
    }
    case 'bind': return parseBind(raw);
    case 'plugins': return parsePluginSpec(raw);
    case 'handler': return parseHandler(raw);
    case 'allow': return parseAllow(raw);
  }
}
