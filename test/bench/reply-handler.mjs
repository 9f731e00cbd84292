// The bench's push-line workload (`npm run bench`): every request answered by a reply of the
// same message, the reference for push-handler.mjs.
export default function handler(message) {
  return message;
}
