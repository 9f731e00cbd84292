import test, { type ExecutionContext } from 'ava';
import { connect, type Socket } from 'node:net';
import { assertOneLineError } from '../helpers/assert.js';
import { eventually, runSs, ssInfo, startSs, type SsProcess } from '../helpers/ss.js';

// --max-connections-per-ip: one client address cannot take every connection slot of a process.
// Linux routes all of 127/8 to lo, so a client bound to 127.0.0.2 is another host to the server.

/** A line client from `localAddress`; `reply` resolves with the first line, `closed` when the server closes it. */
interface Peer { socket: Socket; reply(line: string): Promise<string>; closed: Promise<void> }

function open(port: number, localAddress = '127.0.0.1'): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
      socket.off('error', reject);
      let got = '';
      const waiters: (() => void)[] = [];
      socket.on('data', (chunk: Buffer) => { got += chunk.toString(); for (const w of waiters.splice(0)) w(); });
      socket.on('error', () => {});
      const closed = new Promise<void>((done) => socket.once('close', () => { for (const w of waiters.splice(0)) w(); done(); }));
      const reply = (line: string) => new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no reply to ${line} within 10 s`)), 10_000);
        const check = () => {
          const nl = got.indexOf('\n');
          if (nl >= 0) {
            clearTimeout(timer);
            const first = got.slice(0, nl);
            got = got.slice(nl + 1);
            ok(first);
          } else if (socket.destroyed) {
            clearTimeout(timer);
            fail(new Error(`closed before a reply to ${line}`));
          } else waiters.push(check);
        };
        socket.write(`${line}\n`);
        check();
      });
      resolve({ socket, reply, closed });
    });
    socket.once('error', reject);
  });
}

/** Within 10 s the server closes `peer`, unanswered. */
async function refused(t: ExecutionContext, peer: Peer): Promise<void> {
  const timeout = new Promise<'open'>((r) => setTimeout(() => r('open'), 10_000).unref());
  t.true(await Promise.race([peer.closed.then(() => 'closed' as const), timeout]) === 'closed', 'closed by the server');
}

/** closed.per_ip_limit of the one worker, once it is `want`. */
function perIpClosed(ss: SsProcess, want: number): Promise<number> {
  return eventually(async () => {
    const doc = await ssInfo(ss.pid);
    const n = (doc.workers as { stats: { connections: { closed: Record<string, number> } } }[])[0]!.stats.connections.closed.per_ip_limit;
    return n === want ? n : undefined;
  }, `per_ip_limit ${want}`, 15_000);
}

test('--max-connections-per-ip 10: the 11th connection from 127.0.0.1 is closed, 127.0.0.2 is served, and a slot frees when one closes', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--max-connections-per-ip', '10']);
  const held: Peer[] = [];
  t.teardown(() => { for (const p of held) p.socket.destroy(); });
  for (let i = 0; i < 10; i++) {
    const p = await open(ss.port);
    held.push(p);
    t.is(await p.reply(`c${i}`), `c${i}`);
  }
  const eleventh = await open(ss.port);
  eleventh.socket.write('over\n');
  await refused(t, eleventh);
  const warn = await ss.waitForLog((l) => l.level === 40 && /max_connections_per_ip/.test(l.msg));
  t.is(warn.msg, 'connection from 127.0.0.1 refused: already 10 open from that address (max_connections_per_ip)');
  t.like(warn, { client: '127.0.0.1', max_connections_per_ip: 10 });

  const other = await open(ss.port, '127.0.0.2');
  held.push(other);
  t.is(await other.reply('from .2'), 'from .2');
  t.is(await perIpClosed(ss, 1), 1);

  held.shift()!.socket.destroy(); // one of 127.0.0.1's ten leaves: its slot frees once the server sees the close
  const again = await eventually(async () => {
    const p = await open(ss.port);
    try {
      t.is(await p.reply('again'), 'again');
      return p;
    } catch {
      p.socket.destroy();
      return undefined;
    }
  }, 'a new connection from 127.0.0.1 served');
  held.push(again);
});

test('behind PROXY: the cap applies to the address in the header, not to the proxy', async (t) => {
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1', '--max-connections-per-ip', '2',
    '--proxy-protocol', 'v1', '--proxy-allow-from', '127.0.0.1']);
  const held: Peer[] = [];
  t.teardown(() => { for (const p of held) p.socket.destroy(); });
  const via = async (client: string, line: string): Promise<Peer> => {
    const p = await open(ss.port);
    held.push(p);
    p.socket.write(`PROXY TCP4 ${client} 10.0.0.1 ${4000 + held.length} 80\r\n`);
    if (line !== '') t.is(await p.reply(line), line);
    return p;
  };
  await via('10.9.0.1', 'a1');
  await via('10.9.0.1', 'a2');
  const third = await via('10.9.0.1', '');
  third.socket.write('a3\n');
  await refused(t, third);
  // Four connections from the proxy's one address: the other client is served.
  await via('10.9.0.2', 'b1');
  await via('10.9.0.2', 'b2');
  t.is(await perIpClosed(ss, 1), 1);
  const warn = await ss.waitForLog((l) => l.level === 40 && /max_connections_per_ip/.test(l.msg));
  t.is(warn.client, '10.9.0.1');
});

test('--max-connections-per-ip: a negative or non-integer value exits 2 naming it', async (t) => {
  for (const bad of ['-1', '1.5', 'many']) {
    const r = await runSs(['serve', '--plugin', 'line', '--bind', '127.0.0.1:0', '--max-connections-per-ip', bad]);
    assertOneLineError(t, r, 2, ['--max-connections-per-ip']);
  }
});
