import { definePlugin } from '@socketserver/core';
import { newCounts } from './counts.js';
import { jsonLineWriter } from './json-line.js';
import { SyslogProtocol } from './syslog-protocol.js';

export { SyslogProtocol, type SyslogProtocolOptions } from './syslog-protocol.js';
export { parseSyslog, type SyslogMessage } from './parse.js';
export { newCounts, type SyslogCounts } from './counts.js';
export { jsonOf, jsonLineWriter, type LineOut } from './json-line.js';

/** This process's figures (a worker's, or the one serving process's). */
const counts = newCounts();

export default definePlugin({
  name: 'syslog',
  settings: {
    syslogMaxMessage: {
      flags: ['--syslog-max-message'], type: 'bytes', default: '64kb', section: 'syslog',
      desc: 'Largest syslog message accepted over TCP, framing excluded; a longer one (by its octet count, or its bytes before the newline) closes the connection.',
    },
  },
  // Over udp:// each datagram is one message, unframed (RFC 5426); over TCP, RFC 6587 framing.
  protocol: (cfg, mode) => new SyslogProtocol({ maxMessage: cfg.syslogMaxMessage, datagram: mode?.datagram === true, counts }),
  // With no --handler: each message written to stdout as one JSON line; nothing is replied.
  handler: () => jsonLineWriter(process.stdout, counts),
  apply(app) {
    app.hooks.info.tap('syslog', (info, place) => (place === 'worker' ? { ...info, syslog: { ...counts } } : info));
  },
});
