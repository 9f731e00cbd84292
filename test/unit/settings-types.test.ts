// The types of settings follow from their declarations. Most of this file is checked by the
// compiler: each `@ts-expect-error` must meet an error, so `tsc -b` fails if a mistake it marks
// starts to compile; `Same` asserts that two types are one.
import test from 'ava';
import {
  coreRegistry, defineConfig, definePlugin, type Address, type AllowEntry, type Config, type CoreSettings, type HandlerOf, type PluginSpec,
} from '@socketserver/core';
import line, { LineProtocol } from '@socketserver/plugin-line';
import resp, { type Reply } from '@socketserver/plugin-resp';

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function same<A, B>(proof: Same<A, B>): boolean {
  return proof;
}

test('CoreSettings is derived from the table: types, enum choices, lists, optional values', (t) => {
  t.true(same<CoreSettings['workers'], number>(true));
  t.true(same<CoreSettings['keep_alive'], number>(true));
  t.true(same<CoreSettings['balance'], 'auto' | 'shared' | 'round-robin' | 'reuse-port'>(true));
  t.true(same<CoreSettings['log_level'], 'debug' | 'info' | 'warn' | 'error'>(true));
  t.true(same<CoreSettings['cert_reqs'], 'none' | 'optional' | 'required'>(true));
  t.true(same<CoreSettings['bind'], readonly Address[]>(true));
  t.true(same<CoreSettings['proxy_allow_from'], readonly AllowEntry[]>(true));
  t.true(same<CoreSettings['plugins'], readonly PluginSpec[]>(true));
  t.true(same<CoreSettings['alpn'], readonly string[]>(true));
  t.true(same<CoreSettings['pidfile'], string | undefined>(true));
  t.true(same<CoreSettings['handler'], string | ((...args: never[]) => unknown) | undefined>(true));
});

test('Config has every core setting but config, typed as a config file writes it', (t) => {
  t.true(same<keyof Config, Exclude<keyof CoreSettings, 'config'>>(true));
  t.true(same<Config['keep_alive'], number | string | undefined>(true));
  t.true(same<Config['bind'], string | readonly string[] | undefined>(true));
  t.true(same<Config['tls_min_version'], 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined>(true));

  const config = defineConfig({
    bind: [':7000', 'unix:/tmp/ss.sock'],
    keep_alive: '15',
    backlog: 100,
    cert_reqs: 'required',
    certfile: 'server.pem',
    keyfile: 'server.key',
    alpn: 'h2',
    proxy_allow_from: ['10.0.0.0/8'],
    plugins: ['line', ['resp', { protoMaxBulkLen: '1mb' }]],
    handler: (message) => message,
    servers: { a: { bind: ':7001', workers: 2 } },
  });
  t.is(config.keep_alive, '15');
});

test('a mistyped or unknown key in defineConfig does not compile', (t) => {
  const mistakes = () => [
    // @ts-expect-error: not one of cert_reqs's choices
    defineConfig({ cert_reqs: 'bogus' }),
    // @ts-expect-error: certfile is a path
    defineConfig({ certfile: 1 }),
    // @ts-expect-error: no setting bnid
    defineConfig({ bnid: ':1' }),
    // @ts-expect-error: no setting bnid, beside a known one
    defineConfig({ bind: ':1', bnid: ':1' }),
    // @ts-expect-error: config chooses the config file; a config file cannot set it
    defineConfig({ config: 'other.ts' }),
    // @ts-expect-error: a server's settings are checked too
    defineConfig({ servers: { a: { workres: 2 } } }),
    // @ts-expect-error: workers is a number
    defineConfig({ workers: true }),
    // @ts-expect-error: balance's choices
    defineConfig({ balance: 'random' }),
  ];
  t.is(typeof mistakes, 'function');
});

const settings = {
  maxFrame: { flags: ['--max-frame'], type: 'bytes', default: '64kb', desc: 'Longest frame.' },
  mode: { flags: ['--mode'], type: 'enum', choices: ['fast', 'safe'], default: 'safe', desc: 'Mode.' },
  tag: { flags: ['--tag'], type: 'string', desc: 'A tag.' },
  hosts: { flags: ['--host'], type: 'string', repeatable: true, desc: 'Hosts.' },
  checked: { flags: ['--checked'], type: 'string', default: 'abc', desc: 'Its length.', validate: (text: string) => text.length },
} as const;

test('a plugin\'s cfg has its own settings typed, beside the core ones', (t) => {
  const plugin = definePlugin({
    name: 'typed',
    settings,
    protocol: (cfg) => {
      t.true(same<typeof cfg.maxFrame, number>(true));
      t.true(same<typeof cfg.mode, 'fast' | 'safe'>(true));
      t.true(same<typeof cfg.tag, string | undefined>(true));
      t.true(same<typeof cfg.hosts, readonly string[]>(true));
      t.true(same<typeof cfg.checked, number>(true));
      t.true(same<typeof cfg.workers, number>(true));
      // @ts-expect-error: a size is a number
      const mistake = () => cfg.maxFrame.toUpperCase();
      t.is(typeof mistake, 'function');
      t.deepEqual([cfg.maxFrame, cfg.mode, cfg.tag, cfg.hosts, cfg.checked], [65536, 'safe', undefined, [], 3], 'the values have the types');
      return new LineProtocol(cfg.maxFrame);
    },
    apply(app) {
      t.true(same<typeof app.cfg.maxFrame, number>(true));
      t.true(same<typeof app.cfg.balance, CoreSettings['balance']>(true));
    },
  });
  t.is(plugin.name, 'typed');
  const registry = coreRegistry();
  registry.add(plugin.name, plugin.settings!);
  plugin.protocol!(registry.resolve({}).values as Parameters<NonNullable<typeof plugin.protocol>>[0]);
  t.is(plugin.settings?.maxFrame.type, 'bytes');
});

test('a handler gets the messages and replies of its protocol plugin', (t) => {
  const upper: HandlerOf<typeof line> = (message) => {
    t.true(same<typeof message, Buffer>(true));
    return message.toString().toUpperCase();
  };
  const ping: HandlerOf<typeof resp> = (args) => {
    t.true(same<typeof args, Buffer[]>(true));
    return args.length === 1 ? 'PONG' : null;
  };
  t.true(same<ReturnType<typeof ping>, Reply | undefined | Promise<Reply | undefined>>(true));
  // @ts-expect-error: a line message is a Buffer, not an array of them
  const wrong: HandlerOf<typeof line> = (message: Buffer[]) => message[0];
  t.is(typeof wrong, 'function');
  t.is(upper(Buffer.from('hi'), undefined as never), 'HI');
});
