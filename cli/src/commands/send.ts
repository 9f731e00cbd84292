import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BUNDLED_PROTOCOLS, Client, clientProtocol, formatAddress, resolveSettings, StartupError, UsageError, type Address, type Cfg, type Discovery } from '@socketserver/core';
import type { Options } from '../program.js';

/** A reply as bytes, for raw output; undefined when it is not bytes or text. */
function bytesOf(reply: unknown): Buffer | undefined {
  if (Buffer.isBuffer(reply)) return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  if (typeof reply === 'string') return Buffer.from(reply);
  return undefined;
}

/** Bytes as a UTF-8 string when they are valid UTF-8, else { base64 }. */
function textOf(bytes: Buffer): string | { base64: string } {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return Buffer.from(text).equals(bytes) ? text : { base64: bytes.toString('base64') };
}

/**
 * One JSON line. Within arrays and objects (RESP's), bytes are text as above, errors
 * `{ "error": message }`, big integers their digits.
 */
function jsonLine(reply: unknown): string {
  return JSON.stringify(reply, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key]; // before toJSON: a Buffer, not { type, data }
    if (raw instanceof Uint8Array) return textOf(bytesOf(raw)!);
    if (raw instanceof Error) return { error: raw.message };
    return typeof v === 'bigint' ? v.toString() : v;
  }) ?? 'null';
}

/** Raw output: the reply's bytes, then a newline unless they end with one. */
function rawOutput(reply: unknown): Buffer {
  const bytes = bytesOf(reply) ?? Buffer.from(jsonLine(reply));
  return bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes : Buffer.concat([bytes, Buffer.from('\n')]);
}

async function stdinLines(): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) lines.push(line);
  return lines;
}

/** --count N: how many pushes to print before exiting (implies --follow). */
function parseCount(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw === 'boolean' || raw === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`invalid --count "${raw}": expected a number of pushes, 1 or more`);
  return n;
}

function parseTimeout(raw: unknown): number {
  if (raw === undefined) return 30_000;
  const ms = Number(raw);
  if (typeof raw === 'boolean' || !Number.isInteger(ms) || ms < 0) throw new UsageError(`invalid --reply-timeout "${raw}": expected milliseconds, 0 or more`);
  return ms;
}

/** --tls: the server is checked against --ca-certs when given, else the system's CAs. */
function tlsOptions(caCerts: string | undefined): { ca?: Buffer } {
  if (caCerts === undefined) return {};
  try {
    return { ca: readFileSync(caCerts) };
  } catch (err) {
    throw new UsageError(`invalid --ca-certs "${caCerts}": ${(err as Error).message}`);
  }
}

/**
 * `ss send MESSAGE...`: connect to the server at --bind with the configured protocol
 * plugin's client protocol, send every message at once (pipelined), print the replies in
 * order and the pushes among them as they come; with --follow, go on printing pushes until
 * interrupted, --count N of them were printed, or the server closes.
 */
export async function sendCommand(discoveries: Discovery[], cli: Record<string, unknown>, opts: Options): Promise<number> {
  const discovery = discoveries[0]!;
  const settings = resolveSettings(discovery, cli);
  const supplying = discovery.plugins.filter((p) => p.plugin.client ?? p.plugin.protocol);
  if (supplying.length === 0) throw new UsageError(`no protocol: name a protocol plugin with --plugin (${BUNDLED_PROTOCOLS}) or in the config's plugins`);
  if (supplying.length > 1) throw new UsageError(`plugins ${supplying.map((p) => `"${p.plugin.name}"`).join(' and ')} each supply a protocol; name one with --plugin`);
  const requestTimeout = parseTimeout(opts['reply-timeout']);
  const count = parseCount(opts.count);
  const follow = opts.follow === true || count !== undefined;
  const protocol = clientProtocol(supplying[0]!.plugin, settings.values as Cfg);
  const bind = (settings.values.bind as readonly Address[])[0]!;
  const given = (opts._ as unknown[] | undefined ?? []).map(String);
  const messages = given.length > 0 ? given : await stdinLines();

  const tls = opts.tls === true ? tlsOptions(settings.values.ca_certs as string | undefined) : undefined;
  let client: Client;
  try {
    client = await Client.connect(protocol, { address: formatAddress(bind), requestTimeout, ...(tls ? { tls } : {}) });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  let readerGone = false;
  const print = (value: unknown): void => {
    if (!readerGone) process.stdout.write(opts.json === true ? `${jsonLine(value)}\n` : rawOutput(value));
  };
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  if (follow) {
    // The reader is gone (`| head`): nothing more to print, and no reason to fail.
    process.stdout.on('error', () => { readerGone = true; stop(); });
  }
  let pushes = 0;
  let counted: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => { counted = resolve; });
  client.on('push', (message) => {
    if (count !== undefined && pushes >= count) return;
    print(message);
    if (++pushes === count) counted();
  });
  // Printed as each resolves: replies and pushes come out in the order they arrived.
  const replies = messages.map((m) => client.request(m).then(print));
  try {
    await Promise.all(replies);
  } catch (err) {
    for (const r of replies) r.catch(() => undefined); // every later one fails with the same error
    await client.close();
    throw new StartupError((err as Error).message);
  }
  if (follow) await followPushes(client, Promise.race([enough, stopped]));
  await client.close();
  return 0;
}

/**
 * Wait until `done` (--count reached, or stdout's reader gone) or a signal (exit 0), or the
 * connection closes: by the server (a note, exit 0) or failing (exit 1).
 */
async function followPushes(client: Client, done: Promise<void>): Promise<void> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  const closed = new Promise<Error | 'closed'>((resolve) => client.once('close', (err) => resolve(err ?? 'closed')));
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    const why = await Promise.race([done, stopped, closed]);
    if (why instanceof Error) throw new StartupError(why.message);
    if (why === 'closed') process.stderr.write('ss: connection closed by the server\n');
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
}
