// A chat for browsers and scripts (docs/guides/websocket.md#in-a-browser): rooms are channels,
// each message one JSON command, each reply and each chat message one JSON text.
//   {"join": ROOM}               -> {"joined": ROOM}
//   {"leave": ROOM}              -> {"left": ROOM} (or {"error": …})
//   {"say": ROOM, "text": TEXT}  -> {"sent": N}; every member of ROOM gets {"room", "from", "text"}
// Served by websocket (a text frame each) and line (a line each) alike.
export default async function chat(message, request) {
  const connection = request.connection;
  const pubsub = connection.pubsub;
  let command;
  try {
    command = JSON.parse(String(message));
  } catch {
    return JSON.stringify({ error: 'not JSON' });
  }
  try {
    if (typeof command?.join === 'string') {
      pubsub.subscribe(connection, command.join);
      return JSON.stringify({ joined: command.join });
    }
    if (typeof command?.leave === 'string') {
      return JSON.stringify(pubsub.unsubscribe(connection, command.leave) ? { left: command.leave } : { error: `not in ${command.leave}` });
    }
    if (typeof command?.say === 'string') {
      const said = { room: command.say, from: connection.peer, text: String(command.text ?? '') };
      return JSON.stringify({ sent: await pubsub.publish(command.say, JSON.stringify(said), connection) });
    }
  } catch (err) {
    return JSON.stringify({ error: err.message }); // a subscribe or publish hook refused it
  }
  return JSON.stringify({ error: 'send {"join": ROOM}, {"leave": ROOM} or {"say": ROOM, "text": TEXT}' });
}
