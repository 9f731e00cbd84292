// Rows 10 to 15: what operators rely on — stderr, the watchdog, /metrics, the access log, the
// log's text, the close reasons, a unix socket's name — under clients that attack them.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { makeCerts } from '../../helpers/certs.js';
import { PID_HANDLER } from '../../helpers/workers.js';
import type { Attack, Ctx } from '../attack.js';
import { LINE } from '../bystander.js';
import { alive } from '../server.js';
import { closedWithin, hold, open, Reader } from '../tools.js';
import type { UnreadPipe } from '../unread-pipe.js';

/** An attack's connection served by PID_HANDLER, and the pid of its worker. */
async function pidConnection(ctx: Ctx): Promise<void> {
  const r = new Reader(await open(ctx.port, { keep: true }));
  r.socket.write('pid\n');
  if (!await r.until(ctx, () => r.newlines >= 1, 10_000)) throw new Error('no answer to pid');
  ctx.state.reader = r;
  ctx.state.localPort = r.socket.localPort; // gone from the socket once the server closes it
  ctx.state.pid = Number(r.tail.trim());
}

/** After `block` was sent on the connection: the blocked worker gone and another running in its place; when (s). */
async function replacedWithin(ctx: Ctx, ms: number): Promise<number | undefined> {
  const pid = ctx.state.pid as number;
  const t0 = Date.now();
  while (Date.now() - t0 < ms && !ctx.signal.aborted) {
    await hold(ctx, 250);
    if (alive(pid)) continue;
    const running = await ctx.ss.runningWorkers().catch((): number[] => []);
    if (running.length === ctx.ss.workers.length && !running.includes(pid)) return (Date.now() - t0) / 1000;
  }
  return undefined;
}

const PROXY_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A PROXY v2 header: TCP over IPv4 from 127.0.0.1:1 to 127.0.0.1:2. */
function v2Tcp4(): Buffer {
  return Buffer.concat([PROXY_SIG, Buffer.from([0x21, 0x11, 0, 12, 127, 0, 0, 1, 127, 0, 0, 1, 0, 1, 0, 2])]);
}

/** A PROXY v2 header over AF_UNIX (stream) from `src` to `dst`, each a 108-byte sun_path. */
function v2Unix(src: Buffer, dst: Buffer): Buffer {
  const block = Buffer.alloc(216);
  src.copy(block, 0, 0, 107);
  dst.copy(block, 108, 0, 107);
  return Buffer.concat([PROXY_SIG, Buffer.from([0x21, 0x31, 0, 216]), block]);
}

/** `n` connections that each send `data` (if any) and wait for the server to close them; how many it closed. */
async function failing(ctx: Ctx, n: number, data: string): Promise<number> {
  const closed = await Promise.all(Array.from({ length: n }, async () => {
    const s = await open(ctx.port);
    if (data !== '') s.write(data);
    const was = await closedWithin(ctx, s, 5000);
    s.destroy();
    return was;
  }));
  return closed.filter(Boolean).length;
}

/** Connections the workers closed with `reason` (from `ss info`), waited for until `want` (5 s). */
async function closedFor(ctx: Ctx, reason: string, want: number): Promise<number> {
  let n = 0;
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    const info = await ctx.ss.info();
    n = info.workers.reduce((sum, w) => sum + ((w.stats?.connections.closed as Record<string, number> | undefined)?.[reason] ?? 0), 0);
    if (n >= want) break;
    await hold(ctx, 250);
  }
  return n;
}

/** 50 connections that send `malformed` and 50 silent ones, closed by the server: `reason` counted 100 times. */
function failedAtStage(reason: string, malformed: string): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    const closed = (await failing(ctx, 50, malformed)) + (await failing(ctx, 50, ''));
    const n = await closedFor(ctx, reason, 100);
    ctx.note(`${closed} of 100 closed by the server`);
    ctx.check(`${reason} ${n} of 100 in ss info`, n === 100);
  };
}

/** Half an HTTP request, never finished. */
const HALF_REQUEST = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n';

export const operationsAttacks: Attack[] = [
  {
    id: '10',
    title: 'stderr a pipe nobody reads, one worker\'s loop blocked past --timeout, bystander on the other worker',
    args: () => ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', '2', '--timeout', '5'],
    said: '--workers 2 --timeout 5',
    unreadStderr: true,
    deaths: 1,
    prepare: pidConnection,
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, avoidPid: ctx.state.pid as number, ...LINE }),
    async run(ctx) {
      const pipe = ctx.state.pipe as UnreadPipe;
      pipe.stopReading();
      const filled = pipe.fill();
      (ctx.state.reader as Reader).socket.write('block\n');
      const after = await replacedWithin(ctx, 18_000);
      ctx.note(`stderr pipe full (${filled} bytes put in)`);
      ctx.check(after !== undefined ? `blocked worker replaced after ${after.toFixed(1)} s` : 'blocked worker not replaced within 18 s', after !== undefined);
      await hold(ctx, 1000);
    },
  },
  {
    id: '11',
    title: '/metrics: 32 connections that send half a request (reopened when closed), bystander scraping',
    args: () => ['--plugin', 'line', '--workers', '1', '--plugin', 'metrics', '--metrics-bind', '127.0.0.1:0'],
    async prepare(ctx) {
      ctx.state.url = (await ctx.ss.waitFor(/metrics on (http:\/\/[^\s"]+)/))[1];
    },
    bystander: (ctx) => ({ kind: 'http', url: ctx.state.url as string }),
    async run(ctx) {
      const port = Number(new URL(ctx.state.url as string).port);
      const end = Date.now() + 15_000;
      let closes = 0;
      const slot = async () => {
        while (Date.now() < end && !ctx.signal.aborted) {
          const s = await open(port).catch(() => undefined);
          if (s !== undefined) {
            s.write(HALF_REQUEST);
            if (await closedWithin(ctx, s, end - Date.now())) closes++;
            s.destroy();
          }
          await hold(ctx, 100);
        }
      };
      await Promise.all(Array.from({ length: 32 }, slot));
      ctx.note(`${closes} closed by the server and reopened`);
    },
  },
  {
    id: '12',
    title: 'access log: a worker killed by the watchdog keeps the lines of the 20 requests it answered',
    args: (dir) => ['--plugin', 'line', '--handler', PID_HANDLER, '--workers', '2', '--timeout', '2',
      '--plugin', 'access-log', '--access-log', join(dir, 'access.log'), '--access-log-lines', 'request'],
    said: '--workers 2 --timeout 2 --access-log FILE --access-log-lines request',
    deaths: 1,
    prepare: pidConnection,
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, avoidPid: ctx.state.pid as number, ...LINE }),
    async run(ctx) {
      const r = ctx.state.reader as Reader;
      r.socket.write(Array.from({ length: 20 }, (_, i) => `r${i}\n`).join(''));
      if (!await r.until(ctx, () => r.newlines >= 21, 10_000)) throw new Error('20 requests not answered');
      await hold(ctx, 400); // four times the 100 ms an access line may wait
      r.socket.write('block\n');
      const after = await replacedWithin(ctx, 15_000);
      ctx.check(after !== undefined ? `worker killed and replaced after ${after.toFixed(1)} s` : 'worker not replaced within 15 s', after !== undefined);
      let text = '';
      try { text = readFileSync(join(ctx.dir, 'access.log'), 'utf8'); } catch { /* none */ }
      const mine = text.split('\n').filter((l) => l.includes(` 127.0.0.1:${ctx.state.localPort as number} `)).length;
      ctx.check(`${mine} of its 21 answered requests in the access log`, mine >= 21);
    },
  },
  {
    id: '13',
    title: 'pretty logs: PROXY v2 unix paths holding \\n and ANSI escapes, logged with bad input',
    args: () => ['--plugin', 'line', '--workers', '1', '--proxy-protocol', 'v2', '--max-line', '4', '--log-format', 'pretty'],
    said: '--proxy-protocol v2 --max-line 4 --log-format pretty',
    env: { NO_COLOR: '1', FORCE_COLOR: undefined, CI: undefined },
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, preface: v2Tcp4(), request: Buffer.from('hi\n'), reply: Buffer.from('hi\n') }),
    async run(ctx) {
      const forged = '[2026-01-01 00:00:00] [1] INFO  forged line';
      const attacks = Array.from({ length: 20 }, (_, i) =>
        Buffer.concat([v2Unix(Buffer.from(`/tmp/${i}\n${forged}\x1b[31m\r\x9b2J\x1b]0;title\x07`), Buffer.from('/tmp/b')), Buffer.from('too long for four\n')]));
      const sockets: Socket[] = [];
      for (const data of attacks) {
        const s = await open(ctx.port);
        s.write(data);
        sockets.push(s);
      }
      await Promise.all(sockets.map((s) => closedWithin(ctx, s, 5000)));
      for (const s of sockets) s.destroy();
      // Lines about single connections are capped per second (the rest counted): one is enough.
      const logged = () => ctx.ss.stderr.split('\n').filter((l) => l.includes('bad input') && l.includes('forged line')).length;
      const end = Date.now() + 5000;
      while (logged() === 0 && Date.now() < end) await hold(ctx, 100);
      await hold(ctx, 500);
      const text = ctx.ss.stderr;
      ctx.check(`${logged()} of 20 logged`, logged() > 0);
      const raw = /[\x07\x1b\x9b]/.test(text);
      ctx.check(raw ? 'a raw ESC, CSI or BEL on stderr' : 'no raw ESC', !raw);
      const lines = text.split('\n').filter((l) => l.startsWith(forged)).length;
      ctx.check(lines > 0 ? `${lines} forged lines` : 'no forged line', lines === 0);
    },
  },
  {
    id: '14a',
    title: 'PROXY stage: 50 malformed headers and 50 that never come, counted as proxy_error',
    args: () => ['--plugin', 'line', '--workers', '1', '--proxy-protocol', 'v1', '--proxy-header-timeout', '0.5'],
    said: '--proxy-protocol v1 --proxy-header-timeout 0.5',
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, preface: Buffer.from('PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n'), ...LINE }),
    run: failedAtStage('proxy_error', 'PROXY BOGUS\r\nhi\n'),
  },
  {
    id: '14b',
    title: 'TLS stage: 50 plain-text clients and 50 silent ones, counted as tls_error',
    args: (dir) => {
      const certs = makeCerts(dir);
      return ['--plugin', 'line', '--workers', '1', '--certfile', certs.serverCert, '--keyfile', certs.serverKey, '--tls-handshake-timeout', '0.5'];
    },
    said: 'TLS, --tls-handshake-timeout 0.5',
    bystander: (ctx) => ({ kind: 'stream', port: ctx.port, tls: true, ...LINE }),
    run: failedAtStage('tls_error', 'GET / HTTP/1.0\r\n\r\n'),
  },
  {
    id: '15',
    title: 'ss serve --bind unix:DIR/app.sock: /proc/net/unix shows that path',
    args: (dir) => ['--plugin', 'line', '--workers', '1', '--bind', `unix:${join(dir, 'app.sock')}`],
    bystander: (ctx) => ({ kind: 'stream', path: join(ctx.dir, 'app.sock'), ...LINE }),
    async run(ctx) {
      const path = join(ctx.dir, 'app.sock');
      const table = readFileSync('/proc/net/unix', 'utf8').split('\n');
      const listed = table.some((l) => l.endsWith(` ${path}`));
      const seen = table.filter((l) => l.includes(ctx.dir)).map((l) => l.slice(l.lastIndexOf(' ') + 1));
      ctx.check(listed ? 'listed' : `not listed; under ${ctx.dir}: ${seen.join(', ') || 'nothing'}`, listed);
      await hold(ctx, 2000);
    },
  },
];
