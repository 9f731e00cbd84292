import { chmodSync, lstatSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { createConnection, createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InfoDocument } from '../plugins/app.js';
import { privateDir, untrusted } from '../config/private-dir.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { alive } from './pidfile.js';
import { infoJson } from './ipc.js';

/**
 * The info channel of docs/design.md §9: each running server listens on `<dir>/<arbiter pid>.sock`,
 * a unix socket with mode 0600 in a folder with mode 0700 that belongs to the user, so only
 * that user can ask. The folder is `$XDG_RUNTIME_DIR/socketserver`, else `<tmpdir>/socketserver-<uid>`.
 */
export function controlDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'socketserver') : join(tmpdir(), `socketserver-${process.getuid?.() ?? 'user'}`);
}

/** The folder, created if missing; an error if someone else owns it or others may enter it. */
function ownDir(): string {
  return privateDir(controlDir());
}

export function controlPath(pid: number): string {
  return join(controlDir(), `${pid}.sock`);
}

const MAX_COMMAND = 64;

export interface Control {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Answer `info` on this process's control socket. A failure to open it is logged and the
 * server runs on without `ss info`: it is an operator's convenience, not a reason to refuse service.
 */
export async function openControl(info: () => Promise<InfoDocument>, log: Logger): Promise<Control | undefined> {
  let path: string;
  try {
    path = join(ownDir(), `${process.pid}.sock`);
    try { unlinkSync(path); } catch { /* none left over */ }
  } catch (err) {
    log.warn(`ss info will not reach this server: ${errorMessage(err)}`);
    return undefined;
  }
  const server: NetServer = createServer((socket) => {
    let got = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (s: string) => {
      got += s;
      if (got.length > MAX_COMMAND) { socket.destroy(); return; }
      if (!got.includes('\n')) return;
      socket.removeAllListeners('data');
      const command = got.trim();
      if (command !== 'info') {
        socket.end(`${JSON.stringify({ error: `unknown command "${command.slice(0, 20)}"` })}\n`);
        return;
      }
      info().then(
        (doc) => socket.end(`${infoJson(doc)}\n`), // what a tap added that JSON cannot hold is an error note
        (err) => socket.end(`${JSON.stringify({ error: errorMessage(err) })}\n`),
      );
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
    chmodSync(path, 0o600);
  } catch (err) {
    log.warn(`ss info will not reach this server: ${errorMessage(err)}`);
    server.close();
    return undefined;
  }
  server.unref();
  log.debug({ control: path }, `info on ${path}`);
  return {
    path,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * `ss info`'s side: the folder must be ours and closed to others, as the server checks it,
 * else a socket in it may not be the server's. Undefined when there is no folder.
 */
function trustedDir(): string | undefined {
  const dir = controlDir();
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    return undefined;
  }
  const problem = untrusted(dir, st, 'folder');
  if (problem) throw new Error(`will not ask: ${problem}`);
  return dir;
}

/** Servers whose control socket is in the folder (stale ones, of processes gone, are removed). */
export function runningServers(): number[] {
  const dir = trustedDir();
  let names: string[];
  try {
    names = dir ? readdirSync(dir) : [];
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const m = /^(\d+)\.sock$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (alive(pid)) pids.push(pid);
    else try { unlinkSync(join(dir!, name)); } catch { /* someone else cleaned it */ }
  }
  return pids.sort((a, b) => a - b);
}

/** The most `ss info` reads of a reply: a real document is a few KiB per worker. */
export const MAX_REPLY = 4 * 2 ** 20;

/** Ask the server with this arbiter pid for its info document. */
export function requestInfo(pid: number, timeoutMs = 5000): Promise<InfoDocument> {
  const path = controlPath(pid);
  return new Promise((resolve, reject) => {
    try {
      trustedDir();
      const st = lstatSync(path, { throwIfNoEntry: false });
      const problem = st && untrusted(path, st, 'socket');
      if (problem) throw new Error(`will not ask: ${problem}`);
    } catch (err) {
      reject(err);
      return;
    }
    const socket = createConnection({ path });
    const chunks: Buffer[] = [];
    let size = 0;
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    socket.on('connect', () => socket.write('info\n'));
    socket.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_REPLY) socket.destroy(new Error(`the reply on ${path} is over ${MAX_REPLY / 2 ** 20} MiB; not an info document`));
      else chunks.push(b);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new Error(`no server with pid ${pid} answers on ${path}`)
        : err.code ? new Error(`${path}: ${err.message}`) : err);
    });
    socket.on('end', () => {
      try {
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as InfoDocument;
        if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
        if (typeof doc.error === 'string') reject(new Error(doc.error));
        else resolve(doc);
      } catch {
        reject(new Error(`${path}: not an info document`));
      }
    });
  });
}
