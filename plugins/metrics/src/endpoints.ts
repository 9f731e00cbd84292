import { StartupError, type Address, type Monitor } from '@socketserver/core';
import { Endpoint, type EndpointLimits } from './endpoint.js';

/** This process's endpoints by address: servers of one config that share a --metrics-bind share its endpoint. */
const endpoints = new Map<string, { endpoint: Endpoint; url: Promise<string> }>();

/**
 * Serve `monitor`'s figures at `bind`, opening the endpoint if it is the first there. An address
 * in use fails start-up (exit 1) naming `setting`: metrics quietly missing would go unnoticed
 * until they were needed. The endpoint's limits are those of the first server to open it.
 */
export async function openEndpoint(bind: Address, setting: string, monitor: Monitor, buckets: readonly number[], limits: EndpointLimits): Promise<string> {
  let open = endpoints.get(bind.text);
  if (open === undefined) {
    const endpoint = new Endpoint(limits);
    open = { endpoint, url: endpoint.listen(bind).then((where) => (where.startsWith('unix:') ? where : `http://${where}/metrics`)) };
    endpoints.set(bind.text, open);
  }
  let url: string;
  try {
    url = await open.url;
  } catch (err) {
    endpoints.delete(bind.text);
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'address in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new StartupError(`${setting} ${bind.text}: ${why}`);
  }
  open.endpoint.add(monitor, buckets);
  return url;
}
