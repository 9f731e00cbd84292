import { isIP, isIPv6 } from 'node:net';
import { resolve } from 'node:path';

/** Port used when a bind address gives only a host (pulsar's DEFAULT_PORT). */
export const DEFAULT_PORT = 8060;

export type Address =
  | { readonly kind: 'tcp'; readonly host: string | undefined; readonly port: number; readonly text: string }
  | { readonly kind: 'unix'; readonly path: string; readonly text: string }
  /** A UDP socket (udp://HOST:PORT): datagrams served by the same protocol and handler (docs/reference/udp.md). */
  | { readonly kind: 'udp'; readonly host: string | undefined; readonly port: number; readonly text: string }
  /** A listening socket this process inherited (systemd socket activation, or a parent's fd). */
  | { readonly kind: 'fd'; readonly fd: number; readonly name?: string; readonly text: string };

export const BIND_FORMS = 'HOST, HOST:PORT, :PORT, PORT, [IPv6]:PORT, unix:PATH, fd://N (an inherited socket, N >= 3) or udp:// before any IP form (udp://HOST:PORT, udp://[::1]:PORT, udp://:PORT), with PORT from 0 to 65535';

/** The host of a bind address that gives only a port as a bare number (`7000`): loopback, as the default bind. */
const PORT_ONLY_HOST = '127.0.0.1';

/** The largest descriptor number fd:// takes (a C int). */
const MAX_FD = 2 ** 31 - 1;

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error(`port "${text}" is not a number`);
  const port = Number(text);
  if (port > 65535) throw new Error(`port ${port} is out of range`);
  return port;
}

/**
 * Parse one bind address. Forms: `HOST`, `HOST:PORT`, `:PORT` (all interfaces), `PORT`
 * (loopback), `[v6]:PORT` (or a bare IPv6 address), `unix:PATH`. Throws with the reason.
 */
export function parseAddress(text: string): Address {
  if (text === '') throw new Error('an address is needed');
  if (text.startsWith('fd://')) {
    const n = text.slice(5);
    if (!/^\d{1,10}$/.test(n) || Number(n) > MAX_FD) throw new Error(`"${n}" is not a descriptor number`);
    // 0, 1 and 2 are stdin, stdout and stderr, never a listening socket handed over.
    if (Number(n) < 3) throw new Error(`fd ${Number(n)} is stdin, stdout or stderr`);
    return { kind: 'fd', fd: Number(n), text: `fd://${Number(n)}` };
  }
  if (text.startsWith('udp://')) {
    const rest = text.slice(6);
    // The IP forms of TCP, with a port always given: a datagram server on a default port would surprise.
    if (isIPv6(rest) || !/:\d*$/.test(rest) || rest.endsWith(':')) throw new Error(`"${text}" needs a port: udp://HOST:PORT, udp://[::1]:PORT or udp://:PORT`);
    const tcp = parseAddress(rest);
    if (tcp.kind !== 'tcp') throw new Error(`"${text}" is not udp://HOST:PORT`);
    return { kind: 'udp', host: tcp.host, port: tcp.port, text: `udp://${tcp.text}` };
  }
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (path === '') throw new Error('unix: needs a path');
    return { kind: 'unix', path: resolve(path), text };
  }
  if (text.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(\d*))?$/.exec(text);
    if (!m || !isIPv6(m[1]!)) throw new Error(`"${text}" is not [IPv6]:PORT`);
    const port = m[2] === undefined ? DEFAULT_PORT : parsePort(m[2]);
    return { kind: 'tcp', host: m[1], port, text: `[${m[1]}]:${port}` };
  }
  if (isIPv6(text)) return { kind: 'tcp', host: text, port: DEFAULT_PORT, text: `[${text}]:${DEFAULT_PORT}` };
  // A bare number is a port (no host name is all digits): on loopback, as `:PORT` would be on all interfaces.
  if (/^\d+$/.test(text)) {
    const port = parsePort(text);
    return { kind: 'tcp', host: PORT_ONLY_HOST, port, text: `${PORT_ONLY_HOST}:${port}` };
  }
  const colon = text.lastIndexOf(':');
  const host = colon === -1 ? text : text.slice(0, colon);
  const port = colon === -1 ? DEFAULT_PORT : parsePort(text.slice(colon + 1));
  if (host === '') return { kind: 'tcp', host: undefined, port, text: `:${port}` };
  if (!isIP(host) && !HOSTNAME.test(host)) throw new Error(`"${host}" is not a host name or IP address`);
  return { kind: 'tcp', host, port, text: `${host}:${port}` };
}

/** How an address reads in logs and info once bound (the real port when 0 was asked for). */
/** A client as logs name it: `host:port`, `[v6]:port`, or `unix` for a unix-socket client (no address). */
export function formatPeer(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return 'unix';
  if (port === undefined) return host === '' ? 'unix' : `unix:${host}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function formatAddress(addr: Address, port?: number): string {
  if (addr.kind === 'unix') return `unix:${addr.path}`;
  if (addr.kind === 'fd') return addr.text;
  const p = port ?? addr.port;
  const scheme = addr.kind === 'udp' ? 'udp://' : '';
  if (addr.host === undefined) return `${scheme}:${p}`;
  return isIPv6(addr.host) ? `${scheme}[${addr.host}]:${p}` : `${scheme}${addr.host}:${p}`;
}

/**
 * One entry of an allow list (proxy_allow_from): `*` (anyone), an IP address, or a CIDR
 * `ADDRESS/PREFIX`. Kept as plain data: settings travel to workers, and net/ builds its
 * matcher from these.
 */
export type AllowEntry =
  | { readonly kind: 'any'; readonly text: '*' }
  | { readonly kind: 'net'; readonly family: 'ipv4' | 'ipv6'; readonly address: string; readonly prefix: number; readonly text: string };

export const ALLOW_FORMS = '*, an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8, comma-separated';

export function parseAllowEntry(text: string): AllowEntry {
  const t = text.trim();
  if (t === '*') return { kind: 'any', text: '*' };
  const slash = t.indexOf('/');
  const address = slash === -1 ? t : t.slice(0, slash);
  const v = isIP(address);
  // A zone (%eth0) names an interface, not a network: refused rather than half-matched.
  if (v === 0 || address.includes('%')) throw new Error(`"${t}" is not an IP address or CIDR`);
  const bits = v === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) throw new Error(`"${t}" has a prefix length outside 0..${bits}`);
    prefix = Number(p);
  }
  return { kind: 'net', family: v === 4 ? 'ipv4' : 'ipv6', address, prefix, text: slash === -1 ? address : `${address}/${prefix}` };
}
