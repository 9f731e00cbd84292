import { UsageError, errorMessage } from '../errors.js';
import { COMMA_LISTS, InvalidValue, SETTING_TYPES, parseOne, type SettingType } from './value-types.js';

/** How a core or plugin setting is declared (see docs/design.md §5 and §7). */
export interface SettingDef {
  /** Command-line flags, e.g. `['-b', '--bind']`; the long one also names the `SS_*` variable. */
  readonly flags: readonly string[];
  readonly type?: SettingType;
  /** Written as a user would write it (`'64kb'`, `15`); parsed like any other value. */
  readonly default?: unknown;
  /** Prose: the first sentence is the `--help` line, the rest details for the settings page. */
  readonly desc: string;
  readonly section?: string;
  /** Placeholder in help, e.g. `ADDRESS`. */
  readonly meta?: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** May be given several times; the value is a list. */
  readonly repeatable?: boolean;
  /**
   * Extra check after type parsing: return the value (which is then the setting's, and its
   * type the setting's type), or throw an Error saying what is accepted. A method, so that a
   * check written for the parsed type (`(text: string) => Address`) is one.
   */
  validate?(value: unknown): unknown;
}

export interface Setting extends SettingDef {
  /** Key in the config file and in the resolved settings (`keep_alive`, `maxLine`). */
  readonly name: string;
  /** `core`, or the name of the plugin that declared it. */
  readonly owner: string;
  /** Long flag without dashes (`keep-alive`): the key the argument parser gives. */
  readonly long: string;
  readonly short: string | undefined;
  /** Environment variable: `SS_` + the long flag (`SS_KEEP_ALIVE`). */
  readonly env: string;
}

export type SourceKind = 'default' | 'config' | 'env' | 'cli';
export interface Source {
  readonly kind: SourceKind;
  /** `default`, the config file's path, the variable (`SS_BIND`) or the flag (`--bind`). */
  readonly where: string;
}

export interface Layers {
  /** Values from the config file, keyed by setting name. */
  readonly config?: { readonly file: string; readonly values: Readonly<Record<string, unknown>> };
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Parsed command line, keyed by long flag (`keep-alive`). */
  readonly cli?: Readonly<Record<string, unknown>>;
}

export interface ResolvedSettings {
  readonly values: Readonly<Record<string, unknown>>;
  readonly sources: Readonly<Record<string, Source>>;
}

/** A description's first sentence, without its full stop: the setting's `--help` line (the settings page has it all). */
export function firstSentence(desc: string): string {
  const end = /[.!?](?=\s|$)/.exec(desc);
  return end ? desc.slice(0, end.index) : desc;
}

export function envName(long: string): string {
  return `SS_${long.replace(/-/g, '_').toUpperCase()}`;
}

/** How an error names a setting's value by its source: `--bind`, `SS_BIND`, `bind in FILE`. */
export function sourceName(setting: Setting, source: Source): string {
  switch (source.kind) {
    case 'cli': return source.where;
    case 'env': return setting.env;
    case 'config': return `${setting.name} in ${source.where}`;
    default: return `default of ${setting.name} (${setting.owner})`;
  }
}

function describe(raw: unknown): string {
  if (typeof raw === 'function') return '[function]';
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}

/** Why a plugin's setting declaration cannot be used, or undefined: checked before any of it is read. */
function defProblem(def: unknown): string | undefined {
  if (def === null || typeof def !== 'object') return 'is not an object { flags, desc, ... }';
  const d = def as Record<string, unknown>;
  if (!Array.isArray(d.flags) || !d.flags.every((f) => typeof f === 'string')) return 'needs flags, a list such as [\'--long\'] or [\'-l\', \'--long\']';
  if (d.type !== undefined && !(SETTING_TYPES as readonly unknown[]).includes(d.type)) return `has an unknown type ${JSON.stringify(d.type)} (one of ${SETTING_TYPES.join(', ')})`;
  if (d.choices !== undefined && !(Array.isArray(d.choices) && d.choices.every((c) => typeof c === 'string'))) return 'needs choices to be a list of strings';
  if (d.validate !== undefined && typeof d.validate !== 'function') return 'needs validate to be a function';
  return undefined;
}

/**
 * Every setting the running server knows: core's and those of the loaded plugins.
 * Resolves each through the layers default < config file < SS_* environment < command line.
 */
export class SettingsRegistry {
  private readonly byName = new Map<string, Setting>();
  private readonly byFlag = new Map<string, Setting>();

  add(owner: string, defs: Readonly<Record<string, SettingDef>>): void {
    for (const [name, def] of Object.entries(defs)) {
      const who = owner === 'core' ? 'core' : `plugin "${owner}"`;
      const problem = defProblem(def);
      if (problem) throw new UsageError(`${who}: setting ${name} ${problem}`);
      const long = def.flags.find((f) => f.startsWith('--'))?.slice(2);
      const short = def.flags.find((f) => /^-[^-]$/.test(f))?.slice(1);
      if (!long) throw new UsageError(`${who}: setting ${name} needs a --long flag`);
      const taken = this.byName.get(name) ?? this.byFlag.get(long) ?? (short ? this.byFlag.get(short) : undefined);
      if (taken) throw new UsageError(`${who}: setting ${name} (--${long}) clashes with ${taken.name} of ${taken.owner}`);
      const setting: Setting = { ...def, name, owner, long, short, env: envName(long) };
      this.byName.set(name, setting);
      this.byFlag.set(long, setting);
      if (short) this.byFlag.set(short, setting);
    }
  }

  get(name: string): Setting | undefined {
    return this.byName.get(name);
  }

  all(): Setting[] {
    return [...this.byName.values()];
  }

  /** `sourceName` for a resolved setting. */
  nameSource(name: string, source: Source): string {
    return sourceName(this.byName.get(name)!, source);
  }

  ownedBy(owner: string): Setting[] {
    return this.all().filter((s) => s.owner === owner);
  }

  /** Parse one raw value for a setting; `where` names the source in the error. */
  parse(setting: Setting, raw: unknown, source: Source): unknown {
    const type = setting.type ?? 'string';
    const one = (v: unknown) => {
      const parsed = parseOne(type, v, setting);
      return setting.validate ? setting.validate(parsed) : parsed;
    };
    try {
      if (!setting.repeatable) return one(Array.isArray(raw) && source.kind === 'cli' ? raw[raw.length - 1] : raw);
      const items: unknown[] = Array.isArray(raw) ? raw : [raw];
      // An empty entry in a comma list is a mistake there (it would silently allow nothing), not in SS_BIND=a,,b.
      const list = COMMA_LISTS.has(type) ? items.flatMap((v) => typeof v === 'string' ? v.split(',') : [v])
        : typeof raw === 'string' && source.kind === 'env' ? raw.split(',').filter((s) => s.trim() !== '') : items;
      return list.map(one);
    } catch (err) {
      const accepts = err instanceof InvalidValue ? err.message : `expected ${errorMessage(err)}`;
      throw new UsageError(`invalid ${sourceName(setting, source)} ${describe(raw)}: ${accepts}`);
    }
  }

  /** The value of one setting and where it came from. */
  resolveOne(setting: Setting, layers: Layers): { value: unknown; source: Source } {
    const cliRaw = layers.cli?.[setting.long];
    const envRaw = layers.env?.[setting.env];
    const configValues = layers.config?.values;
    let source: Source;
    let raw: unknown;
    if (cliRaw !== undefined) [source, raw] = [{ kind: 'cli', where: `--${setting.long}` }, cliRaw];
    else if (envRaw !== undefined && envRaw !== '') [source, raw] = [{ kind: 'env', where: setting.env }, envRaw];
    else if (configValues && Object.hasOwn(configValues, setting.name) && configValues[setting.name] !== undefined) {
      [source, raw] = [{ kind: 'config', where: layers.config!.file }, configValues[setting.name]];
    } else {
      source = { kind: 'default', where: 'default' };
      if (setting.default === undefined) return { value: setting.repeatable ? [] : undefined, source };
      raw = setting.default;
    }
    return { value: this.parse(setting, raw, source), source };
  }

  resolve(layers: Layers): ResolvedSettings {
    const values: Record<string, unknown> = {};
    const sources: Record<string, Source> = {};
    for (const setting of this.byName.values()) {
      const r = this.resolveOne(setting, layers);
      values[setting.name] = r.value;
      sources[setting.name] = r.source;
    }
    return { values: Object.freeze(values), sources: Object.freeze(sources) };
  }
}
