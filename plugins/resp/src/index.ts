import { definePlugin } from '@socketserver/core';
import { RespProtocol, INLINE_MAX } from './request-protocol.js';
import { respClient, RespClientProtocol, RespError } from './client-protocol.js';

export { RespProtocol, INLINE_MAX, respClient, RespClientProtocol, RespError };
export type { RespValue, RespRequest } from './client-protocol.js';
export { SimpleString, Raw, ErrorReply, NULL_ARRAY, simple, error, encodedLength, type Reply } from './reply.js';

export default definePlugin({
  name: 'resp',
  settings: {
    protoMaxBulkLen: {
      flags: ['--proto-max-bulk-len'], type: 'bytes', default: '512mb', section: 'resp',
      desc: 'Largest bulk string accepted in a request (Redis\'s proto-max-bulk-len); a longer length closes the connection.',
    },
    protoMaxMultibulkLen: {
      flags: ['--proto-max-multibulk-len'], type: 'int', min: 1, max: 2 ** 31 - 1, default: 2147483647, section: 'resp',
      desc: 'Most arguments accepted in one multibulk request; a larger count closes the connection.',
    },
  },
  protocol: (cfg) => new RespProtocol(cfg.protoMaxBulkLen, cfg.protoMaxMultibulkLen),
  client: (cfg) => respClient(cfg),
});
