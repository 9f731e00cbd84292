import { readFileSync, fstatSync } from 'node:fs';
import type { Address } from './address.js';
import { UsageError } from './errors.js';

/** systemd's first passed descriptor (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

let taken: readonly Extract<Address, { kind: 'fd' }>[] | undefined;

/**
 * The listening sockets systemd (or any service manager following sd_listen_fds(3)) passed us:
 * LISTEN_FDS descriptors from fd 3, named by LISTEN_FDNAMES, honoured only when LISTEN_PID is our
 * pid (the variables may have leaked from a parent to whom they were meant). The variables are
 * removed from the environment the first time, as sd_listen_fds(1) does, so that workers and any
 * program a plugin starts do not take the sockets for theirs; later calls (a reload) return what
 * the first one found.
 */
export function inheritedSockets(env: NodeJS.ProcessEnv = process.env): readonly Extract<Address, { kind: 'fd' }>[] {
  if (taken) return taken;
  const { LISTEN_FDS: count, LISTEN_PID: pid, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  taken = [];
  if (count === undefined || pid !== String(process.pid)) return taken;
  if (!/^\d{1,4}$/.test(count)) throw new UsageError(`invalid LISTEN_FDS "${count}": expected a number of descriptors`);
  const named = names === undefined ? [] : names.split(':');
  taken = Array.from({ length: Number(count) }, (_, i) => {
    const fd = FIRST_FD + i;
    const name = named[i] || undefined;
    return { kind: 'fd' as const, fd, ...(name ? { name } : {}), text: `fd://${fd}` };
  });
  return taken;
}

/**
 * The addresses a server listens on: its `bind`, unless that is only the default and systemd
 * passed sockets (then those). With several servers, each one without a bind of its own takes the
 * sockets whose LISTEN_FDNAMES name is its name (FileDescriptorName= in the .socket unit).
 */
export function listenAddresses(bind: readonly Address[], bindIsDefault: boolean, server: string | undefined, servers: number): readonly Address[] {
  const inherited = inheritedSockets();
  // fd://N of a socket systemd named: the name goes into the log line.
  if (!bindIsDefault) return bind.map((a) => (a.kind === 'fd' ? inherited.find((i) => i.fd === a.fd) ?? a : a));
  if (inherited.length === 0) return bind;
  if (servers === 1) return inherited;
  const own = inherited.filter((a) => a.name === server);
  return own.length > 0 ? own : bind;
}

/** The sockets systemd passed that no server listens on (a bind was given instead): worth a warning. */
export function unusedInherited(served: readonly Address[]): string | undefined {
  const unused = inheritedSockets().filter((i) => !served.some((a) => a.kind === 'fd' && a.fd === i.fd));
  if (unused.length === 0) return undefined;
  return `LISTEN_FDS: ${unused.map((a) => a.text + (a.name ? ` "${a.name}"` : '')).join(', ')} passed by systemd and not served (a bind is set; fd://N serves one)`;
}

/**
 * The file of a listening unix socket given as a descriptor, from the kernel's table of unix
 * sockets (Linux): Node cannot tell, since it did not bind the socket. Undefined if unknown.
 */
export function unixSocketPath(fd: number): string | undefined {
  try {
    const inode = fstatSync(fd).ino;
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      // Num RefCount Protocol Flags Type St Inode Path: the path is the rest of the line (it may
      // hold spaces), '@name' for an abstract socket, none for an unnamed one.
      const m = /^(?:\S+\s+){6}(\d+)(?: (.*))?$/.exec(line.trim());
      if (m && Number(m[1]) === inode) return m[2] || undefined;
    }
  } catch { /* not Linux, or no /proc */ }
  return undefined;
}
