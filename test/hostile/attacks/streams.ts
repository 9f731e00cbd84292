// Rows 7 to 9: line and netstring connections that hold memory or slots.
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { FIXTURES } from '../../helpers/temp.js';
import type { Attack, Ctx } from '../attack.js';
import { LINE, NETSTRING } from '../bystander.js';
import { hold, isOpen, MiB, mib, openMany, pump, repeat, sequence } from '../tools.js';

/** A handler whose promise never settles, but for `ping`. */
const NEVER_SETTLES = join(FIXTURES, 'hostile', 'never-settles.mjs');

/** Every `everyMs`, for `ms`: `act(socket, index, tick)` on each connection. */
async function every(ctx: Ctx, sockets: Socket[], everyMs: number, ms: number, act: (s: Socket, i: number, tick: number) => void): Promise<void> {
  const end = Date.now() + ms;
  for (let tick = 0; Date.now() < end && !ctx.signal.aborted; tick++) {
    sockets.forEach((s, i) => act(s, i, tick));
    await hold(ctx, Math.min(everyMs, end - Date.now()));
  }
}

const stillOpen = (sockets: Socket[]) => sockets.filter(isOpen).length;

export const streamAttacks: Attack[] = [
  {
    id: '7',
    title: 'line, a handler that never settles: 16 connections each pipeline 1024 lines of 64 KiB',
    args: () => ['--plugin', 'line', '--workers', '1', '--handler', NEVER_SETTLES],
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, ...LINE }),
    async run(ctx) {
      const line = Buffer.alloc(64 * 1024, 'x');
      line[line.length - 1] = 10; // 65535 bytes and a newline: just under --max-line's 64kb
      const sockets = await openMany(ctx, 16);
      const sent = await Promise.all(sockets.map((s) => pump(ctx, s, repeat(line, 1024 * line.length))));
      await hold(ctx, 3000);
      ctx.note(`${mib(sent.reduce((a, b) => a + b, 0))} written, ${stillOpen(sockets)} of 16 still open`);
      for (const s of sockets) s.destroy();
    },
  },
  {
    // A trickle alone holds next to nothing (pending bytes are kept in storage that doubles as
    // they come, not sized to the announced frame): each frame is sent but for its last bytes,
    // which trickle in, so that each connection holds its megabyte as the frame timeout allows.
    id: '8',
    title: 'netstring: 1500 connections each announce a 1 MiB frame, send all but 16 bytes and trickle the rest',
    args: () => ['--plugin', 'netstring', '--workers', '1'],
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, ...NETSTRING }),
    async run(ctx) {
      const sockets = await openMany(ctx, 1500);
      const sent = await Promise.all(sockets.map((s) => pump(ctx, s, sequence(Buffer.from('1048576:'), MiB - 16))));
      await every(ctx, sockets, 1000, 15_000, (s) => { if (isOpen(s)) s.write('x'); });
      ctx.note(`${sockets.length} opened, ${mib(sent.reduce((a, b) => a + b, 0))} written, ${stillOpen(sockets)} still open at the end`);
      for (const s of sockets) s.destroy();
    },
  },
  {
    id: '9',
    title: 'line: one host keeps 1000 connections past keep-alive (an empty line every 5 s), bystander from 127.0.0.2',
    args: () => ['--plugin', 'line', '--workers', '1', '--backlog', '1000', '--max-connections-per-ip', '100'],
    said: '--backlog 1000, --max-connections-per-ip 100 (0, off, by default)',
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, localAddress: '127.0.0.2', fresh: true, ...LINE }),
    async run(ctx) {
      const sockets = await openMany(ctx, 1000);
      const all = [...sockets];
      const reopening: Promise<unknown>[] = [];
      // Past the 15 s keep-alive; closed ones are opened again every 2 s, as a client after every slot would.
      await every(ctx, sockets, 1000, 20_000, (s, i, tick) => {
        if (isOpen(s)) {
          if (tick % 5 === 4) s.write('\n');
        } else if (tick % 2 === 1) {
          reopening.push(openMany(ctx, 1).then(([fresh]) => { if (fresh) all.push(sockets[i] = fresh); }));
        }
      });
      await Promise.all(reopening);
      ctx.note(`${stillOpen(sockets)} of 1000 held at the end, ${reopening.length} reopened`);
      for (const s of all) s.destroy();
    },
  },
];
