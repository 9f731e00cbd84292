// The bench's push-line workload (`npm run bench`): every request answered by a push of the
// same message (connection.send) and no reply. Against reply-handler.mjs: what a push costs.
export default function handler(message, request) {
  request.connection.send(message);
  return undefined;
}
