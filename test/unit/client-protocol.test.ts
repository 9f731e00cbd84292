import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { Client, clientProtocol, definePlugin, type Cfg, type Protocol } from '@socketserver/core';

/**
 * Length-prefixed replies (one byte of length) that announce the size they wait for
 * (`expected`), counting how many bytes decode was shown in all.
 */
function counting(): Protocol<Buffer, string> & { scanned: number; expected: number } {
  return {
    scanned: 0,
    expected: 0,
    decode(data: Buffer): [Buffer | undefined, Buffer] {
      this.scanned += data.length;
      const size = data.length < 1 ? 1 : 1 + data[0]!;
      if (data.length < size) {
        this.expected = size;
        return [undefined, data];
      }
      this.expected = 0;
      return [data.subarray(1, size), data.subarray(size)];
    },
    encode: (m: string) => m,
  };
}

/** A loopback server whose sockets stay writable after the client's end (half-open), as a server draining replies is. */
async function server(onConnection: (s: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createServer({ allowHalfOpen: true }, (s) => { sockets.add(s); s.on('error', () => undefined); onConnection(s); });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as { port: number }).port,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((resolve) => srv.close(() => resolve())); },
  };
}

test('definePlugin checks that client is a function', (t) => {
  t.throws(() => definePlugin({ name: 'x', client: 'nope' as never }), { message: 'definePlugin: "client" must be a function' });
  t.notThrows(() => definePlugin({ name: 'x', client: () => counting() }));
});

test('clientProtocol prefers a plugin\'s client to its protocol', (t) => {
  const own = counting();
  const other = counting();
  t.is(clientProtocol({ name: 'a', protocol: () => other, client: () => own }, {} as Cfg), own);
  t.is(clientProtocol({ name: 'b', protocol: () => other }, {} as Cfg), other);
  t.throws(() => clientProtocol({ name: 'c' }, {} as Cfg), { name: 'UsageError' });
});

test('a reply arriving a byte at a time is decoded once whole: the client holds reads until the announced size (linear)', async (t) => {
  const reply = Buffer.concat([Buffer.from([200]), Buffer.alloc(200, 0x61)]);
  const srv = await server((s) => s.once('data', async () => {
    for (let i = 0; i < reply.length; i++) {
      s.write(reply.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r)); // a separate read for each byte, most of the time
    }
  }));
  t.teardown(() => srv.close());
  const protocol = counting();
  const client = await Client.connect(protocol, { address: `127.0.0.1:${srv.port}`, requestTimeout: 10_000 });
  const got = await client.request('go');
  t.is(got.length, 200);
  t.true(got.every((b: number) => b === 0x61));
  // Without the Cumulator's holding, every read would show decode all pending bytes again (about 20,000 here).
  t.true(protocol.scanned <= 2 * reply.length, `decode saw ${protocol.scanned} bytes`);
  await client.close();
});

test('close() ends gracefully: a reply still due arrives first', async (t) => {
  const srv = await server((s) => s.on('data', () => setTimeout(() => s.end(Buffer.from([2, 0x6f, 0x6b])), 100)));
  t.teardown(() => srv.close());
  const client = await Client.connect(counting(), { address: `127.0.0.1:${srv.port}` });
  const reply = client.request('x');
  const closed = client.close();
  t.is((await reply).toString(), 'ok');
  await closed;
  await t.throwsAsync(client.request('after'));
});

test('close() does not wait for a server that keeps its side open after our end', async (t) => {
  const srv = await server((s) => s.on('data', () => s.write(Buffer.from([1, 0x21])))); // answers, never ends
  t.teardown(() => srv.close());
  const client = await Client.connect(counting(), { address: `127.0.0.1:${srv.port}` });
  t.is((await client.request('x')).toString(), '!');
  const started = Date.now();
  await client.close();
  t.true(Date.now() - started < 2000);
});
