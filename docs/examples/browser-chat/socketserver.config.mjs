// The browser chat (docs/guides/websocket.md#in-a-browser): pages connect to ws://HOST:8080/chat,
// scripts to the line server on :7000, both served by chat.mjs. Servers of one config keep their
// channels apart unless they share them through Redis (pubsub), as servers on other hosts do.
export default {
  handler: './chat.mjs',
  pubsub: 'redis://127.0.0.1:6379',
  servers: {
    web: { plugins: [['websocket', { wsPath: '/chat' }]], bind: ':8080' },
    lines: { plugins: ['line'], bind: ':7000' },
  },
};
