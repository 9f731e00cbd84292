// Rows 1 and 2: the resp parser fed requests that are huge before they are whole.
import type { Attack, Ctx } from '../attack.js';
import { RESP_ECHO } from '../bystander.js';
import { closedWithin, MiB, mib, open, pump, repeat, sequence } from '../tools.js';

const RESP = ['--plugin', 'resp', '--workers', '1'];

/** Send `parts` on a new connection, then keep it open `holdMs` unless the server closes it; a note says what happened. */
async function partial(ctx: Ctx, parts: () => Buffer | undefined, holdMs: number): Promise<string> {
  const s = await open(ctx.port);
  const sent = await pump(ctx, s, parts);
  const closed = await closedWithin(ctx, s, holdMs);
  s.destroy();
  return `${mib(sent)} written, ${closed ? 'closed' : 'still open'}`;
}

export const respAttacks: Attack[] = [
  {
    id: '1',
    title: 'resp: one multibulk of 50M empty arguments',
    args: () => RESP,
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, ...RESP_ECHO }),
    async run(ctx) {
      const args = 50_000_000;
      const empty = Buffer.from('$0\r\n\r\n'.repeat(10_000));
      const body = repeat(empty, args * 6);
      let head: Buffer | undefined = Buffer.from(`*${args}\r\n`);
      const parts = () => { const h = head; head = undefined; return h ?? body(); };
      ctx.note(await partial(ctx, parts, 3000));
    },
  },
  {
    id: '2a',
    title: 'resp: one multibulk of three 500 MB bulks, 1.2 GB sent, never finished',
    args: () => RESP,
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, ...RESP_ECHO }),
    async run(ctx) {
      const bulk = Buffer.from('$500000000\r\n');
      const parts = sequence(Buffer.from('*3\r\n'), bulk, 500_000_000, Buffer.from('\r\n'), bulk, 500_000_000, Buffer.from('\r\n'), bulk, 200_000_000);
      ctx.note(await partial(ctx, parts, 5000));
    },
  },
  {
    id: '2b',
    title: 'resp: 4 clients each hold a partial 400 MiB bulk',
    args: () => RESP,
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, ...RESP_ECHO }),
    async run(ctx) {
      const notes = await Promise.all(Array.from({ length: 4 }, () =>
        partial(ctx, sequence(Buffer.from('*1\r\n$500000000\r\n'), 400 * MiB), 5000)));
      ctx.note(notes.join('; '));
    },
  },
];
