import { readFileSync } from 'node:fs';
import { resolveSettings, StartupError, UsageError, type Discovery } from '@socketserver/core';
import { controlDir, requestInfo, runningServers } from '@socketserver/core/process';
import type { Options } from '../program.js';

/** The arbiter to ask: --pid, else the pidfile (flag, SS_PIDFILE or config), else the only one running. */
export function findServer(discovery: Discovery, cli: Record<string, unknown>, opts: Options): number {
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
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new StartupError(`pidfile ${pidfile}: ${code === 'ENOENT' ? 'no such file (is the server running?)' : (err as Error).message}`);
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new StartupError(`pidfile ${pidfile}: no pid in it`);
    return pid;
  }
  let pids: number[];
  try {
    pids = runningServers();
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  if (pids.length === 1) return pids[0]!;
  if (pids.length === 0) throw new StartupError(`no running server found (servers answer info in ${controlDir()})`);
  throw new UsageError(`${pids.length} servers are running (arbiter pids ${pids.join(', ')}): choose one with --pid or --pidfile`);
}

export const mb = (bytes: unknown) => (typeof bytes === 'number' ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '-');
const secs = (s: unknown) => (typeof s === 'number' ? `${Math.round(s)}s` : '-');

/** Restarts by reason: their sum, and the reasons that occurred (`2 (crash 1, reload 1)`). */
export function restarts(v: unknown): string {
  const counts = Object.entries(obj(v)).filter(([, n]) => typeof n === 'number' && n > 0) as [string, number][];
  const sum = counts.reduce((a, [, n]) => a + n, 0);
  return counts.length ? `${sum} (${counts.map(([k, n]) => `${k} ${n}`).join(', ')})` : '0';
}

/** Keys beyond the ones printed in columns (stats, hook times and a metrics plugin's figures are for --json, ss top and /metrics): what info taps added. */
function extra(doc: Record<string, unknown>, known: readonly string[]): string {
  const rest = Object.entries(doc).filter(([k]) => !known.includes(k));
  return rest.length ? `  ${rest.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}` : '';
}

/**
 * What a terminal would act on rather than show: C0 and C1 controls (ANSI escapes start
 * with ESC or CSI), DEL, line and paragraph separators, and bidirectional overrides. The
 * document comes from another process, so none of it reaches the terminal raw.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line of text output, its controls shown as \uXXXX. */
export const clean = (line: string) => line.replace(CONTROLS, escape);

/** JSON.stringify escapes C0 controls only: the rest are escaped too, which JSON allows (they occur only in strings). */
const json = (doc: unknown) => JSON.stringify(doc, null, 2).replace(CONTROLS, (c) => (c === '\n' ? c : escape(c)));

/**
 * A part of the info document as read here: it comes from another process, so its shape is
 * checked field by field, and one of the wrong shape is shown as missing rather than crash the printing.
 */
export type Fields = Record<string, unknown>;
export const list = (v: unknown): Fields[] => (Array.isArray(v) ? v.map(obj) : []);
export function obj(v: unknown): Fields {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Fields : {};
}

function print(info: Fields): string {
  const a = obj(info.arbiter);
  const lines = [`arbiter  pid ${a.pid}  ${a.name ?? ''}  up ${secs(a.uptime)}  version ${a.version}  ${a.state}${extra(a, ['pid', 'name', 'uptime', 'version', 'state'])}`];
  for (const m of list(info.monitors)) {
    const workers = obj(m.workers);
    lines.push(`server ${m.name}  ${list(m.addresses).length ? (m.addresses as unknown[]).join(' ') : ''}  workers ${workers.alive}/${workers.wanted} alive/wanted` +
      `  restarts ${restarts(m.restarts)}${extra(m, ['name', 'addresses', 'workers', 'restarts'])}`);
    for (const w of list(info.workers).filter((x) => x.server === m.name)) {
      const conns = obj(w.connections);
      lines.push(`  worker ${w.id}  pid ${w.pid}  ${w.state}  up ${secs(w.uptime)}  requests ${w.requests ?? '-'}  ` +
        `connections ${conns.active ?? '-'} active / ${conns.received ?? '-'} received  memory ${mb(w.memory)}` +
        extra(w, ['server', 'id', 'pid', 'state', 'uptime', 'requests', 'connections', 'memory', 'stats', 'hooks', 'metrics']));
      const pubsub = pubsubLine(obj(w.stats));
      if (pubsub !== undefined) lines.push(pubsub);
      const datagrams = datagramLine(obj(w.stats));
      if (datagrams !== undefined) lines.push(datagrams);
    }
  }
  lines.push(...Object.entries(info).filter(([k]) => !['arbiter', 'monitors', 'workers'].includes(k)).map(([k, v]) => `${k}: ${JSON.stringify(v)}`));
  return `${lines.map(clean).join('\n')}\n`;
}

/** A worker's pushes and channels, once it has had any (`stats.pushes`, `stats.pubsub`). */
function pubsubLine(stats: Fields): string | undefined {
  const p = obj(stats.pubsub);
  if (!stats.pushes && !p.subscribers && !p.published && !p.delivered) return undefined;
  const r = obj(p.redis);
  const redis = p.redis === undefined ? '' : `  redis ${r.state} sent ${r.sent} received ${r.received} lost ${r.lost}`;
  return `    pushes ${stats.pushes ?? 0}  channels ${p.channels ?? 0}  patterns ${p.patterns ?? 0}  subscribers ${p.subscribers ?? 0}  ` +
    `published ${p.published ?? 0}  delivered ${p.delivered ?? 0}  dropped ${p.dropped ?? 0}${redis}`;
}

/** A worker's datagrams (udp:// binds), when it reads any (`stats.datagrams`): drops by reason, those that happened. */
function datagramLine(stats: Fields): string | undefined {
  if (stats.datagrams === undefined) return undefined;
  const d = obj(stats.datagrams);
  const drops = Object.entries(obj(d.dropped)).filter(([, n]) => n !== 0).map(([r, n]) => `  ${r} ${String(n)}`).join('');
  return `    datagrams received ${String(d.received ?? 0)}  replied ${String(d.replied ?? 0)}  dropped${drops === '' ? ' 0' : drops}`;
}

/** `ss info`: ask a running server for its info document (docs/design.md §9). */
export async function infoCommand(discoveries: Discovery[], cli: Record<string, unknown>, opts: Options): Promise<number> {
  const pid = findServer(discoveries[0]!, cli, opts);
  let info: Fields;
  try {
    info = await requestInfo(pid);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  let text: string;
  try {
    text = opts.json === true ? `${json(info)}\n` : print(info);
  } catch {
    throw new StartupError(`server ${pid}: not an info document`); // e.g. a field that cannot be shown as text
  }
  process.stdout.write(text);
  return 0;
}
