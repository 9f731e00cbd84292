import { definePlugin } from '@socketserver/core';
import { NetstringProtocol } from './netstring-protocol.js';

export { NetstringProtocol };

export default definePlugin({
  name: 'netstring',
  settings: {
    maxNetstring: {
      flags: ['--max-netstring'], type: 'bytes', default: '1mb', section: 'netstring',
      desc: 'Largest netstring payload accepted; a longer length prefix closes the connection before the payload arrives.',
    },
  },
  protocol: (cfg) => new NetstringProtocol(cfg.maxNetstring),
});
