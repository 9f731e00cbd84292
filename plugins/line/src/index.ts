import { definePlugin } from '@socketserver/core';
import { LineProtocol } from './line-protocol.js';

export { LineProtocol };

export default definePlugin({
  name: 'line',
  settings: {
    maxLine: {
      flags: ['--max-line'], type: 'bytes', default: '64kb', section: 'line',
      desc: 'Longest line accepted, without its newline; a longer one closes the connection.',
    },
  },
  protocol: (cfg) => new LineProtocol(cfg.maxLine),
});
