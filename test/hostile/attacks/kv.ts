// Rows 3 to 6: kv's commands used to block the loop, fill the heap, pile up dead keys, or hold
// replies nobody reads.
import type { Socket } from 'node:net';
import type { Attack, Ctx } from '../attack.js';
import { KV } from '../bystander.js';
import { hold, MiB, mib, open, pump, Reader, resp, sequence } from '../tools.js';

const KV_ARGS = ['--plugin', 'resp', '--plugin', 'kv', '--workers', '1'];
const bystander = (ctx: Ctx) => ({ kind: 'stream' as const, port: ctx.port, ...KV });

/** The attack's connection (one per attack), kept between prepare and run. */
async function conn(ctx: Ctx): Promise<Reader> {
  ctx.state.reader ??= new Reader(await open(ctx.port, { keep: true }));
  return ctx.state.reader as Reader;
}

/**
 * Pipeline up to `count` commands `make(i)`, `batch` per write with up to two writes unanswered,
 * until `stop()` or the time is up; each must have a one-line reply. Resolves with the commands answered.
 */
async function pipeline(ctx: Ctx, r: Reader, make: (i: number) => string, opts: { count?: number; batch: number; ms: number; stop?: () => boolean }): Promise<number> {
  const { count = Infinity, batch, ms, stop = () => false } = opts;
  const base = r.newlines;
  const end = Date.now() + ms;
  let sent = 0;
  while (sent < count && !stop() && Date.now() < end && !r.closed && !ctx.signal.aborted) {
    let text = '';
    for (let i = 0; i < batch && sent + i < count; i++) text += make(sent + i);
    r.socket.write(text);
    sent = Math.min(count, sent + batch);
    await r.until(ctx, () => r.newlines - base >= sent - batch || stop(), end - Date.now());
  }
  await r.until(ctx, () => r.newlines - base >= sent || stop(), 10_000);
  return r.newlines - base;
}

const set = (key: string, value: string, ...more: string[]) =>
  `*${3 + more.length}\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n${more.map((m) => `$${m.length}\r\n${m}\r\n`).join('')}`;

/** The integer of the last `:N` reply received. */
const lastInteger = (r: Reader) => Number(/:(\d+)\r\n$/.exec(r.tail)?.[1]);

const KEY_COUNT = 50_000;
const key5 = (i: number) => `key:${String(i).padStart(5, '0')}`;
const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
// 120 MiB: a 128 MiB value is itself over the default max_client_memory (its SET is refused).
const VALUE_BYTES = 120 * MiB;

export const kvAttacks: Attack[] = [
  {
    id: '3a',
    title: 'kv: KEYS with an exponential glob (*a*a…*b, 100 bytes) on keys of 100 a\'s',
    args: () => KV_ARGS,
    bystander,
    async prepare(ctx) {
      const r = await conn(ctx);
      await pipeline(ctx, r, (i) => set(`${'a'.repeat(100)}${i}`, 'v'), { count: 3, batch: 3, ms: 10_000 });
    },
    async run(ctx) {
      const r = await conn(ctx);
      const before = r.received;
      const t0 = Date.now();
      r.socket.write(resp('KEYS', `${'*a'.repeat(49)}*b`));
      const answered = await r.until(ctx, () => r.received > before && r.tail.endsWith('\r\n'), 20_000);
      ctx.check(answered ? `answered in ${Date.now() - t0} ms` : 'KEYS not answered within 20 s', answered);
    },
  },
  {
    id: '3b',
    title: 'kv: 40 KEYS * pipelined in one write on 50k keys',
    args: () => KV_ARGS,
    bystander,
    async prepare(ctx) {
      const r = await conn(ctx);
      const done = await pipeline(ctx, r, (i) => set(key5(i), 'v'), { count: KEY_COUNT, batch: 5000, ms: 30_000 });
      if (done < KEY_COUNT) throw new Error(`only ${done} of ${KEY_COUNT} keys set`);
    },
    async run(ctx) {
      const r = await conn(ctx);
      // Each reply: *50000\r\n, then $9\r\nkey:NNNNN\r\n per key.
      const want = 40 * (`*${KEY_COUNT}\r\n`.length + KEY_COUNT * 15);
      const before = r.received;
      const t0 = Date.now();
      r.socket.write(Buffer.concat(Array.from({ length: 40 }, () => resp('KEYS', '*'))));
      const answered = await r.until(ctx, () => r.received - before >= want, 20_000);
      ctx.check(answered ? `40 replies (${mib(want)}) in ${Date.now() - t0} ms` : `${mib(r.received - before)} of ${mib(want)} of replies within 20 s`, answered);
    },
  },
  {
    id: '4',
    title: 'kv: SET of new keys until memory runs out, heap capped at 256 MiB',
    args: () => KV_ARGS,
    env: { NODE_OPTIONS: '--max-old-space-size=256' },
    said: 'NODE_OPTIONS=--max-old-space-size=256',
    bystander,
    async run(ctx) {
      const r = await conn(ctx);
      const value = 'v'.repeat(100);
      const n = await pipeline(ctx, r, (i) => set(`k:${i}`, value), { batch: 2000, ms: 20_000, stop: () => r.tail.includes('-OOM') });
      const oom = r.tail.includes(OOM);
      ctx.check(oom ? `-OOM after ${n} SETs` : `no -OOM after ${n} SETs${r.closed ? ', connection closed' : ''}`, oom);
    },
  },
  {
    id: '5',
    title: 'kv: SET k v PX 100 on fresh keys for 15 s, then DBSIZE',
    args: () => KV_ARGS,
    bystander,
    async run(ctx) {
      const r = await conn(ctx);
      const t0 = Date.now();
      const n = await pipeline(ctx, r, (i) => set(`e:${i}`, 'v', 'PX', '100'), { batch: 2000, ms: 15_000 });
      const rate = Math.round(n / ((Date.now() - t0) / 1000));
      // Every key is dead 100 ms after the load: the expire cycle must clear them within a few seconds.
      let size = NaN;
      const sizes: number[] = [];
      const end = Date.now() + 5000;
      while (Date.now() < end && !r.closed && !ctx.signal.aborted) {
        const before = r.newlines;
        r.socket.write(resp('DBSIZE'));
        if (!await r.until(ctx, () => r.newlines > before, 5000)) break;
        size = lastInteger(r);
        sizes.push(size);
        if (size <= 1000) break;
        await hold(ctx, 250);
      }
      ctx.note(`${n} SETs (${rate}/s)`);
      ctx.check(`DBSIZE ${sizes[0]} → ${size} (≤ 1000 within 5 s wanted)`, size <= 1000);
    },
  },
  {
    // One 120 MiB value asked six times: the same 720 MiB reply per client as six values, without
    // 720 MiB of stored data (six values alone take the tree past 1 GiB before the attack).
    id: '6',
    title: 'kv: MGET of a 120 MiB value six times (720 MiB replies) by 3 clients that never read',
    args: () => KV_ARGS,
    bystander,
    async prepare(ctx) {
      const r = await conn(ctx);
      await pump(ctx, r.socket, sequence(Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nv\r\n$${VALUE_BYTES}\r\n`), VALUE_BYTES, Buffer.from('\r\n')));
      if (!await r.until(ctx, () => r.newlines > 0, 20_000) || !r.tail.endsWith('+OK\r\n')) {
        throw new Error(`SET of 120 MiB: ${JSON.stringify(r.tail.slice(-100))}`);
      }
      r.socket.destroy();
    },
    async run(ctx) {
      const mget = resp('MGET', ...Array.from({ length: 6 }, () => 'v'));
      const clients: Socket[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await open(ctx.port, { keep: true });
        s.pause(); // never read: the replies wait in the server
        s.write(mget);
        clients.push(s);
      }
      await hold(ctx, 10_000);
      for (const s of clients) s.destroy();
    },
  },
];
