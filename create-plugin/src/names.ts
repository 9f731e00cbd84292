/** The names a plugin called NAME goes by, in its package and its code. */
export interface Names {
  /** The plugin's name: `ss serve --plugin NAME`, `definePlugin({ name })`, its flags' prefix. */
  readonly name: string;
  /** `socketserver-plugin-NAME`: the package name `ss` looks for (docs/design.md §6). */
  readonly packageName: string;
  /** PascalCase, for classes (`my-proto` → `MyProto`). */
  readonly pascal: string;
  /** camelCase, for setting keys (`my-proto` → `myProto`). */
  readonly camel: string;
  /** Upper case with underscores, as in `SS_*` variables (`my-proto` → `MY_PROTO`). */
  readonly constant: string;
}

const PREFIX = 'socketserver-plugin-';

/**
 * Names that `ss` resolves to a bundled plugin before it looks for `socketserver-plugin-NAME`
 * (`@socketserver/plugin-NAME` comes first): a plugin of that name would never be loaded. A test
 * checks this list against the plugins/ folder.
 */
export const BUNDLED = ['access-log', 'echo', 'kv', 'line', 'metrics', 'netstring', 'resp', 'syslog', 'websocket'] as const;

/** Thrown for a name that cannot be a plugin's: its message is the whole line the user reads. */
export class NameError extends Error {}

/**
 * The names for NAME (given bare or as `socketserver-plugin-NAME`): lowercase letters and digits in
 * words joined by single dashes, starting with a letter, so that it is an npm name, a flag
 * (`--NAME-max-frame`) and an identifier once camel-cased.
 */
export function pluginNames(given: string): Names {
  const name = given.startsWith(PREFIX) ? given.slice(PREFIX.length) : given;
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
    throw new NameError(`invalid NAME "${given}": use lowercase letters, digits and single dashes, starting with a letter (as in my-proto)`);
  }
  if (name.length > 50) throw new NameError(`invalid NAME "${given}": at most 50 characters`);
  if ((BUNDLED as readonly string[]).includes(name)) {
    throw new NameError(`invalid NAME "${given}": ss loads the bundled @socketserver/plugin-${name} for that name; choose another`);
  }
  const words = name.split('-');
  const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);
  return {
    name,
    packageName: PREFIX + name,
    pascal: words.map(cap).join(''),
    camel: words[0]! + words.slice(1).map(cap).join(''),
    constant: words.join('_').toUpperCase(),
  };
}
