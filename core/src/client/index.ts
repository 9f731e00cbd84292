export { Client, type ClientProtocol, type ConnectOptions } from './connection.js';
export type { PushIterator } from './pushes.js';
export { createClient, clientProtocol, type ClientOptions } from './create-client.js';
export { decodeMessages } from './decode-messages.js';
