import test from 'ava';
import { parseAddress, parseBytes } from '@socketserver/core';

test('sizes as people write them', (t) => {
  const cases: [string | number, number][] = [
    ['65536', 65536], [65536, 65536], ['64kb', 65536], ['64k', 65536], ['64KiB', 65536],
    ['1mb', 1 << 20], ['1MB', 1 << 20], ['1.5mb', 1.5 * (1 << 20)], ['2gb', 2 * 1024 ** 3], ['10b', 10],
  ];
  for (const [input, bytes] of cases) t.is(parseBytes(input), bytes, String(input));
  for (const bad of ['', 'abc', '1zb', '-1', '0', 'kb', '1 2kb', NaN, 1.5]) {
    t.throws(() => parseBytes(bad), { message: /expected a size such as 65536, 64kb or 1mb/ }, String(bad));
  }
});

test('bind forms', (t) => {
  const tcp = (text: string) => {
    const a = parseAddress(text);
    return a.kind === 'tcp' || a.kind === 'udp' ? [a.host, a.port, a.text] : a.kind === 'unix' ? [a.path] : [a.fd, a.text];
  };
  t.deepEqual(tcp('127.0.0.1:9000'), ['127.0.0.1', 9000, '127.0.0.1:9000']);
  t.deepEqual(tcp('127.0.0.1'), ['127.0.0.1', 8060, '127.0.0.1:8060']);
  t.deepEqual(tcp(':7000'), [undefined, 7000, ':7000']);
  t.deepEqual(tcp('7000'), ['127.0.0.1', 7000, '127.0.0.1:7000'], 'a bare number is a port, on loopback');
  t.deepEqual(tcp('0'), ['127.0.0.1', 0, '127.0.0.1:0']);
  t.deepEqual(tcp('[::1]:7000'), ['::1', 7000, '[::1]:7000']);
  t.deepEqual(tcp('[::1]'), ['::1', 8060, '[::1]:8060']);
  t.deepEqual(tcp('::1'), ['::1', 8060, '[::1]:8060']);
  t.deepEqual(tcp('localhost:0'), ['localhost', 0, 'localhost:0']);
  t.deepEqual(tcp('unix:/tmp/a.sock'), ['/tmp/a.sock']);
  t.deepEqual(tcp('fd://3'), [3, 'fd://3']);
  t.deepEqual(tcp('fd://012'), [12, 'fd://12']);
  t.is(parseAddress('udp://127.0.0.1:7000').kind, 'udp');
  t.deepEqual(tcp('udp://127.0.0.1:7000'), ['127.0.0.1', 7000, 'udp://127.0.0.1:7000']);
  t.deepEqual(tcp('udp://[::1]:0'), ['::1', 0, 'udp://[::1]:0']);
  t.deepEqual(tcp('udp://:514'), [undefined, 514, 'udp://:514']);
  t.deepEqual(tcp('udp://localhost:9'), ['localhost', 9, 'udp://localhost:9']);
  for (const bad of ['udp://', 'udp://127.0.0.1', 'udp://127.0.0.1:', 'udp://[::1]', 'udp://::1', 'udp://7000', 'udp://unix:/x:1', 'udp://fd://3:1', 'udp://1.2.3.4:70000']) {
    t.throws(() => parseAddress(bad), undefined, bad);
  }
  for (const bad of ['127.0.0.1:99999', '127.0.0.1:http', 'unix:', '[nope]:1', 'bad host:1', ':', 'a..b:1', 'fd://', 'fd://x', 'fd://2', 'fd://-3', 'fd://2147483648', '70000']) {
    t.throws(() => parseAddress(bad), undefined, bad);
  }
});
