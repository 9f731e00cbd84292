import { definePlugin } from '@socketserver/core';
import { EchoProtocol } from './echo-protocol.js';

export { EchoProtocol };

export default definePlugin({
  name: 'echo',
  protocol: () => new EchoProtocol(),
});
