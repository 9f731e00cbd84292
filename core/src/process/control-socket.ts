import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Info } from '../plugins/app.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { alive } from './pidfile.js';
import { infoJson } from './ipc.js';

/**
 * The info channel of design §9: each running server listens on `<dir>/<arbiter pid>.sock`,
 * a unix socket with mode 0600 in a folder with mode 0700 that belongs to the user, so only
 * that user can ask. The folder is `$XDG_RUNTIME_DIR/socketserver`, else `<tmpdir>/socketserver-<uid>`.
 */
export function controlDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'socketserver') : join(tmpdir(), `socketserver-${process.getuid?.() ?? 'user'}`);
}

/** The folder, created if missing; an error if someone else owns it or others may enter it. */
function ownDir(): string {
  const dir = controlDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
  if (process.getuid && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)})`);
  return dir;
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
export async function openControl(info: () => Promise<Info>, log: Logger): Promise<Control | undefined> {
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

/** Servers whose control socket is in the folder (stale ones, of processes gone, are removed). */
export function runningServers(): number[] {
  const dir = controlDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const m = /^(\d+)\.sock$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (alive(pid)) pids.push(pid);
    else try { unlinkSync(join(dir, name)); } catch { /* someone else cleaned it */ }
  }
  return pids.sort((a, b) => a - b);
}

/** Ask the server with this arbiter pid for its info document. */
export function requestInfo(pid: number, timeoutMs = 5000): Promise<Info> {
  const path = controlPath(pid);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    let got = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    socket.on('connect', () => socket.write('info\n'));
    socket.on('data', (s: string) => { got += s; });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `no server with pid ${pid} answers on ${path}` : `${path}: ${err.message}`));
    });
    socket.on('end', () => {
      try {
        const doc = JSON.parse(got) as Info;
        if (typeof doc.error === 'string') reject(new Error(doc.error));
        else resolve(doc);
      } catch {
        reject(new Error(`${path}: not an info document`));
      }
    });
  });
}
