import { isIPv6 } from 'node:net';
import { parseAddress, type Address } from '@socketserver/core';

export const METRICS_BIND_FORMS = 'HOST:PORT, [IPv6]:PORT, :PORT or unix:PATH, with PORT from 0 to 65535';

/**
 * Check `--metrics-bind` (a string setting: the core's bind type would take a bare host and
 * give it the socket server's port, and fd://N, neither of which suits an HTTP endpoint).
 * The error says what is accepted; the registry names the setting.
 */
export function parseMetricsBind(text: string): Address {
  const given = text.trim();
  let addr: Address;
  try {
    addr = parseAddress(given);
  } catch (err) {
    throw new Error(`${METRICS_BIND_FORMS} (${(err as Error).message})`);
  }
  if (addr.kind === 'fd') throw new Error(`${METRICS_BIND_FORMS} (an inherited socket is for the server itself)`);
  if (addr.kind === 'udp') throw new Error(`${METRICS_BIND_FORMS} (HTTP needs TCP, not udp://)`);
  if (addr.kind === 'tcp' && (isIPv6(given) || !/:\d+$/.test(given))) throw new Error(`${METRICS_BIND_FORMS} (the port is needed)`);
  return addr;
}
