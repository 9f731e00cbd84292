// The bench's ws-fanout workload (`npm run bench`): `subscribe` joins channel c (answered
// `subscribed`); any other message is published to c and answered with the count, as text.
// Against ws-baseline.js broadcast, which does the same by hand with a set of connections.
export default function handler(message, request) {
  const { connection } = request;
  if (message === 'subscribe') {
    connection.pubsub.subscribe(connection, 'c');
    return 'subscribed';
  }
  const n = connection.pubsub.publishNow('c', message, connection);
  return typeof n === 'number' ? String(n) : n.then(String);
}
