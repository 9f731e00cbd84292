import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client, clientProtocol, formatAddress, resolveSettings, StartupError, UsageError, type Address, type Cfg, type Discovery } from '@socketserver/core';
import type { Options } from '../program.js';

/** A reply as bytes, for raw output; undefined when it is not bytes or text. */
function bytesOf(reply: unknown): Buffer | undefined {
  if (Buffer.isBuffer(reply)) return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  if (typeof reply === 'string') return Buffer.from(reply);
  return undefined;
}

/** One JSON line: bytes as a UTF-8 string when they are valid UTF-8, else { base64 }. */
function jsonLine(reply: unknown): string {
  const bytes = Buffer.isBuffer(reply) || reply instanceof Uint8Array ? bytesOf(reply)! : undefined;
  if (bytes) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    const valid = Buffer.from(text).equals(bytes);
    return JSON.stringify(valid ? text : { base64: bytes.toString('base64') });
  }
  return JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
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
 * plugin's client protocol, send every message at once (pipelined), print the replies in order.
 */
export async function sendCommand(discoveries: Discovery[], cli: Record<string, unknown>, opts: Options): Promise<number> {
  const discovery = discoveries[0]!;
  const settings = resolveSettings(discovery, cli);
  const supplying = discovery.plugins.filter((p) => p.plugin.client ?? p.plugin.protocol);
  if (supplying.length === 0) throw new UsageError('no protocol: name a protocol plugin with --plugin (echo, line, netstring) or in the config\'s plugins');
  if (supplying.length > 1) throw new UsageError(`plugins ${supplying.map((p) => `"${p.plugin.name}"`).join(' and ')} each supply a protocol; name one with --plugin`);
  const requestTimeout = parseTimeout(opts['reply-timeout']);
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
  const replies = messages.map((m) => client.request(m));
  try {
    for (const reply of replies) {
      const value: unknown = await reply;
      process.stdout.write(opts.json === true ? `${jsonLine(value)}\n` : rawOutput(value));
    }
  } catch (err) {
    for (const r of replies) r.catch(() => undefined); // every later one fails with the same error
    throw new StartupError((err as Error).message);
  } finally {
    await client.close();
  }
  return 0;
}
