// The hand-written WebSocket server the websocket workloads compare ss with: the `ws` package as
// its users write one, no compression.
//
//   node test/dist/bench/ws-baseline.js <echo|broadcast> <port>
//
// echo: every message is sent back as it came (text as text). broadcast: the text message
// `subscribe` adds the connection to one set and is answered `subscribed`; any other message is
// sent to every connection of the set, then answered with the set's size as text, as
// ws-fanout-handler.mjs does in ss with a channel.
//
// Listens on 127.0.0.1 (port 0 = any), prints `listening 127.0.0.1:PORT` on stdout, stops on
// SIGTERM.
import { WebSocketServer, type WebSocket } from 'ws';

const [mode, portArg] = process.argv.slice(2);
const port = Number(portArg ?? 0);
if ((mode !== 'echo' && mode !== 'broadcast') || !Number.isInteger(port)) {
  console.error('usage: ws-baseline <echo|broadcast> <port>');
  process.exit(2);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
const subscribers = new Set<WebSocket>();

wss.on('connection', (ws) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    return;
  }
  ws.on('close', () => subscribers.delete(ws));
  ws.on('message', (data, isBinary) => {
    const msg = data as Buffer;
    if (!isBinary && msg.length === 9 && msg.toString('latin1') === 'subscribe') {
      subscribers.add(ws);
      ws.send('subscribed');
      return;
    }
    for (const client of subscribers) client.send(msg, { binary: isBinary });
    ws.send(String(subscribers.size));
  });
});

wss.on('listening', () => {
  const addr = wss.address();
  console.log(`listening 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`);
});
process.on('SIGTERM', () => {
  wss.close();
  process.exit(0);
});
