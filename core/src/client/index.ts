export { Client, type ConnectOptions } from './connection.js';
export { createClient, clientProtocol, type ClientOptions } from './create-client.js';
