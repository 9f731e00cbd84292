import type { Socket } from 'node:net';
import { App, Cumulator, clientProtocol, decodeMessages, type CloseReason, type Connection, type ClientProtocol, type LoadedPlugin } from '@socketserver/core';
import { AppServer } from '@socketserver/core/process';
import { build, type BuildOptions } from './build.js';
import { FakeSocket } from './fake-socket.js';
import { instrument, Recording, type HookCall } from './record.js';

/** A log line the server wrote, as pino made it (`level` 20 debug, 30 info, 40 warn, 50 error; `msg`, and its fields). */
export type LogRecord = Record<string, unknown>;

export interface InjectOptions extends BuildOptions {
  /** ms the input may take to be answered (async handlers) before inject rejects; default 10000. */
  readonly timeout?: number;
}

/** What the server did with the input. */
export interface Injected<Rep = unknown> {
  /** The replies it wrote, decoded by its protocol's client side (plugin.client ?? plugin.protocol), in order. */
  replies: Rep[];
  /** What it sent unasked (connection.send, channel deliveries), decoded the same way, in order. */
  pushes: unknown[];
  /** Every byte it wrote. */
  output: Buffer;
  /** Every hook call, in order: workerStart, connectionMade, preRequest, postRequest, handlerError, connectionLost, workerStop… */
  hooks: HookCall[];
  /** The server closed the connection (a ProtocolError on malformed input, a failing handler, a limit) before the input ended. */
  closed: boolean;
  /** Why the connection ended (`clean` when the server answered everything and the client ended it). */
  closeReason: CloseReason;
  /** What closed it, when something failed. */
  error: Error | undefined;
  /** Log lines written meanwhile (an app made by createApp or from options; none for another). */
  logs: LogRecord[];
}

/** Bytes as one read, several reads, or messages the protocol's client side encodes (each its own read for an unframed protocol, else one read). */
export type InjectInput = string | Uint8Array | readonly (string | Uint8Array)[] | { readonly messages: readonly unknown[] };

const logsOf = new WeakMap<App, LogRecord[]>();

/**
 * Build the app as `ss serve` would with these plugins, handler and settings (see `build`), its
 * log kept for inject (at debug level unless `log_level` is set). One app may be injected many
 * times: its handler's state (a kv store) lasts between them.
 */
export async function createApp(options: BuildOptions): Promise<App> {
  const { discovery, settings } = await build(options, { log_level: 'debug' });
  const logs: LogRecord[] = [];
  const app = await App.create(discovery, settings, { write: (line) => { logs.push(JSON.parse(line) as LogRecord); } });
  logsOf.set(app, logs);
  return app;
}

function isApp(target: unknown): target is App {
  return target instanceof App || (typeof target === 'object' && target !== null && 'hooks' in target && typeof (target as App).newProtocol === 'function');
}

function toBuffer(bytes: string | Uint8Array): Buffer {
  if (typeof bytes === 'string') return Buffer.from(bytes);
  if (bytes instanceof Uint8Array) return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError(`inject: a read must be a string or a Uint8Array, not ${bytes === null ? 'null' : typeof bytes}`);
}

function reads(input: InjectInput, client: ClientProtocol): Buffer[] {
  let chunks: Buffer[];
  if (typeof input === 'string' || input instanceof Uint8Array) chunks = [toBuffer(input)];
  else if (Array.isArray(input)) chunks = (input as readonly (string | Uint8Array)[]).map(toBuffer);
  else if (input !== null && typeof input === 'object' && Array.isArray((input as { messages?: unknown }).messages)) {
    const encoded = (input as { messages: readonly unknown[] }).messages.map((m) => toBuffer(client.encode(m) as string | Uint8Array));
    chunks = client.unframed === true ? encoded : [Buffer.concat(encoded)];
  } else throw new TypeError('inject: input is bytes (a string or a Uint8Array), an array of reads, or { messages: [...] }');
  return chunks.filter((c) => c.length > 0);
}

/** What a client side writes on its own once connected (Protocol.attach: WebSocket's handshake), as reads. */
function opening(speaker: ClientProtocol): Buffer[] {
  if (speaker.attach === undefined) return [];
  const written: Buffer[] = [];
  const write = (bytes: Uint8Array | string) => { written.push(toBuffer(bytes)); };
  speaker.attach({
    write, probe: write, end: () => undefined, wake: () => undefined, describe: () => undefined,
    lastActive: Date.now(), peer: 'localhost',
  });
  return written;
}

/** Every message in `writes`, read as a client reads them (each write one read). */
function decodeAll(client: ClientProtocol, writes: readonly Buffer[], plugin: string): unknown[] {
  const pending = new Cumulator();
  const messages: unknown[] = [];
  try {
    for (const write of writes) decodeMessages(client, pending, write, (m) => messages.push(m));
  } catch (err) {
    throw new Error(`inject: what the server wrote does not decode with the client side of plugin "${plugin}": ${(err as Error).message}`);
  }
  if (pending.length > 0) throw new Error(`inject: the server's output ends with ${pending.length} byte(s) that are not a whole message for the client side of plugin "${plugin}"`);
  return messages;
}

/**
 * Until the connection has stopped moving for a turn of the event loop: nothing more decoded,
 * answered, pushed or written (a read's dispatch may give the loop back and go on at the next
 * turn); with `answered`, also until no request waits for its handler.
 */
async function quiet(connection: Connection, socket: FakeSocket, answered: boolean, until: number, timeout: number): Promise<void> {
  let last = '';
  for (;;) {
    const now = `${connection.requests} ${connection.inFlight} ${connection.pushes} ${socket.writes} ${socket.destroyed}`;
    if (now === last && (!answered || socket.destroyed || connection.inFlight === 0)) return;
    if (Date.now() > until) throw new Error(`inject: ${connection.inFlight} request(s) still unanswered after ${timeout} ms`);
    const still = now === last; // an async handler at work: look again a little later
    last = now;
    await new Promise((resolve) => (still ? setTimeout(resolve, 5) : setImmediate(resolve)));
  }
}

interface Served {
  readonly connection: Connection;
  /** The server closed it before the client ended it. */
  readonly closed: boolean;
}

/**
 * Start `serving`, connect `socket` and give it each read once the one before is dispatched; once
 * every request is answered, end it as a client would, and stop. On a failure (a time-out), the
 * connection is closed and the server stopped at once.
 */
async function serve(serving: AppServer, socket: FakeSocket, chunks: readonly Buffer[], timeout: number): Promise<Served> {
  let connection: Connection | undefined;
  let closed: boolean;
  try {
    await serving.start();
    serving.server.accept(socket as unknown as Socket);
    connection = [...serving.server.connections].find((c) => c.socket === socket as unknown as Socket);
    if (connection === undefined) throw new Error('inject: the server refused the connection (backlog? max_connections_per_ip?)');
    const until = Date.now() + timeout;
    for (const chunk of chunks) {
      socket.receive(chunk);
      await quiet(connection, socket, false, until, timeout);
    }
    await quiet(connection, socket, true, until, timeout);
    closed = socket.destroyed || socket.writableEnded;
    if (!closed) {
      socket.emit('end'); // the client is done: the server closes once it has written everything
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    connection?.destroy();
    await serving.stop('quick');
    throw err;
  }
  await serving.stop('graceful');
  return { connection, closed };
}

/**
 * Drive `app` (or one built from options) in this process, without sockets: one connection gets
 * `input`, as reads, as `ss serve` would (workerStart first, workerStop last); once every request
 * is answered the client ends it. Resolves with what the server wrote, decoded, and what it did.
 */
export async function inject<Rep = unknown>(target: InjectOptions | App, input: InjectInput): Promise<Injected<Rep>> {
  const app = isApp(target) ? target : await createApp(target);
  const timeout = isApp(target) ? 10_000 : target.timeout ?? 10_000;
  const protocolPlugin: LoadedPlugin = app.plugins.find((p) => p.plugin.protocol)!;
  // One client side for the connection, as a client has: what it opens with (WebSocket's
  // handshake) is sent first, and its state reads the server's answer before the replies.
  const speaker = clientProtocol(protocolPlugin.plugin, app.cfg);
  const chunks = [...opening(speaker), ...reads(input, speaker)];
  const { recordings } = instrument(app);
  const logs = logsOf.get(app);
  const logsFrom = logs?.length ?? 0;
  const serving = new AppServer(app, 0);
  const recording = new Recording();
  recordings.set(serving.server, recording);
  const socket = new FakeSocket();
  let served: Served;
  try {
    served = await serve(serving, socket, chunks, timeout);
  } finally {
    recordings.delete(serving.server);
  }
  const { connection, closed } = served;

  let writes = socket.written;
  let last: unknown[] = [];
  // A ProtocolError's own reply (RESP's -ERR Protocol error) is written last, on its own.
  const reply = (connection.error as { reply?: string | Uint8Array } | undefined)?.reply;
  const lastWrite = reply !== undefined && writes.length > 0 && writes.at(-1)!.equals(toBuffer(reply)) ? writes.at(-1)! : undefined;
  if (lastWrite !== undefined) writes = writes.slice(0, -1);
  const messages = decodeAll(speaker, writes, protocolPlugin.plugin.name);
  if (lastWrite !== undefined) last = decodeAll(speaker, [lastWrite], protocolPlugin.plugin.name);
  const kinds = recording.kinds(connection, app.newProtocol().encodesNull === true);
  const replies: unknown[] = [];
  const pushes: unknown[] = [];
  messages.forEach((m, i) => (kinds[i] === true ? pushes : replies).push(m));
  replies.push(...last);
  return {
    replies: replies as Rep[], pushes, output: socket.output(), hooks: recording.hooks, closed,
    closeReason: connection.closeReason, error: connection.error, logs: logs?.slice(logsFrom) ?? [],
  };
}
