import type { Address, AllowEntry } from '../address.js';
import type { SettingDef } from './registry.js';
import type { AnyFunction, PluginSpec, SettingType } from './value-types.js';

/**
 * The types of settings, derived from their declarations: a table of `SettingDef`s (core's,
 * or a plugin's `settings`) is the one place a setting is written; what `cfg` holds and what
 * a config file may give follow from it here.
 */

/** What one value of each type resolves to (`parseOne`). */
interface Parsed {
  string: string;
  path: string;
  int: number;
  seconds: number;
  bytes: number;
  enum: string;
  bind: Address;
  allow: AllowEntry;
  plugins: PluginSpec;
  handler: string | AnyFunction;
}

/** What a config file may write for one value of each type: sizes and durations also as text (`'64kb'`). */
interface Given {
  string: string;
  path: string;
  int: number | string;
  seconds: number | string;
  bytes: number | string;
  enum: string;
  bind: string;
  allow: string;
  plugins: PluginSpec;
  handler: string | AnyFunction;
}

type TypeOf<D> = D extends { readonly type: infer T extends SettingType } ? T : 'string';
type Choice<D> = D extends { readonly choices: readonly (infer C extends string)[] } ? C : never;

/** One resolved value: an enum's choices, or what `validate` returns, else the type's. */
type One<D> = D extends { validate(value: never): infer V } ? V
  : TypeOf<D> extends 'enum' ? Choice<D> : Parsed[TypeOf<D>];

/** One value as a config file writes it. */
type GivenOne<D> = TypeOf<D> extends 'enum' ? Choice<D> : Given[TypeOf<D>];

type Repeatable<D> = D extends { readonly repeatable: true } ? true : false;
type HasDefault<D> = D extends { readonly default: string | number | boolean | object } ? true : false;

/** A resolved setting: a list when repeatable, undefined when it has no default and is not given. */
export type SettingValue<D> = Repeatable<D> extends true ? readonly One<D>[]
  : HasDefault<D> extends true ? One<D> : One<D> | undefined;

/** A setting as a config file gives it: one value or, when repeatable, a list (or one value alone). */
export type ConfigValue<D> = Repeatable<D> extends true ? Exclude<GivenOne<D>, readonly unknown[]> | readonly GivenOne<D>[]
  : GivenOne<D>;

/** The resolved settings of a table: what `cfg` holds. */
export type SettingsOf<T extends Readonly<Record<string, SettingDef>>> = { readonly [K in keyof T]: SettingValue<T[K]> };

/** What a config file may set of a table: every setting, each optional. */
export type ConfigOf<T extends Readonly<Record<string, SettingDef>>> = { readonly [K in keyof T]?: ConfigValue<T[K]> };
