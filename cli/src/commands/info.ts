import { readFileSync } from 'node:fs';
import { controlDir, requestInfo, resolveSettings, runningServers, StartupError, UsageError, type Discovery, type Info } from '@socketserver/core';
import type { Options } from '../program.js';

/** The arbiter to ask: --pid, else the pidfile (flag, SS_PIDFILE or config), else the only one running. */
function findServer(discovery: Discovery, cli: Record<string, unknown>, opts: Options): number {
  if (opts.pid !== undefined) {
    const pid = Number(opts.pid);
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`invalid --pid "${opts.pid}": expected a process id`);
    return pid;
  }
  const pidfile = resolveSettings(discovery, cli).values.pidfile as string | undefined;
  if (pidfile) {
    let text: string;
    try {
      text = readFileSync(pidfile, 'utf8');
    } catch {
      throw new StartupError(`pidfile ${pidfile}: no such file (is the server running?)`);
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new StartupError(`pidfile ${pidfile}: no pid in it`);
    return pid;
  }
  const pids = runningServers();
  if (pids.length === 1) return pids[0]!;
  if (pids.length === 0) throw new StartupError(`no running server found (servers answer info in ${controlDir()})`);
  throw new UsageError(`${pids.length} servers are running (arbiter pids ${pids.join(', ')}): choose one with --pid or --pidfile`);
}

const mb = (bytes: unknown) => (typeof bytes === 'number' ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '-');
const secs = (s: unknown) => (typeof s === 'number' ? `${Math.round(s)}s` : '-');

/** Keys beyond the ones printed in columns: what info taps added. */
function extra(doc: Record<string, unknown>, known: readonly string[]): string {
  const rest = Object.entries(doc).filter(([k]) => !known.includes(k));
  return rest.length ? `  ${rest.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}` : '';
}

function print(info: Info): string {
  const a = info.arbiter ?? {};
  const lines = [`arbiter  pid ${a.pid}  ${a.name ?? ''}  up ${secs(a.uptime)}  version ${a.version}  ${a.state}${extra(a, ['pid', 'name', 'uptime', 'version', 'state'])}`];
  for (const m of info.monitors ?? []) {
    lines.push(`server ${m.name}  ${(m.addresses ?? []).join(' ')}  workers ${m.workers?.alive}/${m.workers?.wanted} alive/wanted${extra(m, ['name', 'addresses', 'workers'])}`);
    for (const w of (info.workers ?? []).filter((x: Info) => x.server === m.name)) {
      lines.push(`  worker ${w.id}  pid ${w.pid}  ${w.state}  up ${secs(w.uptime)}  requests ${w.requests ?? '-'}  ` +
        `connections ${w.connections?.active ?? '-'} active / ${w.connections?.received ?? '-'} received  memory ${mb(w.memory)}` +
        extra(w, ['server', 'id', 'pid', 'state', 'uptime', 'requests', 'connections', 'memory']));
    }
  }
  lines.push(...Object.entries(info).filter(([k]) => !['arbiter', 'monitors', 'workers'].includes(k)).map(([k, v]) => `${k}: ${JSON.stringify(v)}`));
  return `${lines.join('\n')}\n`;
}

/** `ss info`: ask a running server for its info document (design §9). */
export async function infoCommand(discoveries: Discovery[], cli: Record<string, unknown>, opts: Options): Promise<number> {
  const pid = findServer(discoveries[0]!, cli, opts);
  let info: Info;
  try {
    info = await requestInfo(pid);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  process.stdout.write(opts.json === true ? `${JSON.stringify(info, null, 2)}\n` : print(info));
  return 0;
}
