import { definePlugin } from '@socketserver/core';

export default definePlugin({
  name: 'metrics',
});
