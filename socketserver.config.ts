// The repository's example config: `npx ss serve` in this folder serves it.
// `npx ss serve --plugin echo` replaces its plugins from the command line.
import { defineConfig } from '@socketserver/core';

export default defineConfig({
  bind: '127.0.0.1:8060',
  keep_alive: 15,
  plugins: [['line', { maxLine: '64kb' }]],
});
