// A plugin whose one setting is declared once, here: test/integration/settings-chain.test.ts
// finds it typed in a config, in ss serve --help, in ss config and in the settings page.
import { definePlugin } from '@socketserver/core';

export default definePlugin({
  name: 'greeter',
  settings: {
    greeting: {
      flags: ['--greeting'], type: 'enum', choices: ['hi', 'hello'], default: 'hi', section: 'greeter',
      desc: 'How each reply begins. Said before every message, with a space.',
    },
  },
  handler: (cfg) => (message: Buffer) => `${cfg.greeting} ${message.toString()}`,
});
