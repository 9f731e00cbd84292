import test from 'ava';
import fc from 'fast-check';
import { Cumulator } from '@socketserver/core';

/**
 * Model check: reads appended, a decoder consuming a random number of bytes each time
 * (and sometimes announcing how many it needs), against plain concatenation. Every view
 * handed out earlier must keep its bytes (async handlers may still hold messages).
 */
test('cumulator: pending bytes always equal the model, and handed-out views never change', (t) => {
  t.notThrows(() => fc.assert(fc.property(
    fc.array(fc.record({
      chunk: fc.uint8Array({ minLength: 1, maxLength: 200 }),
      consume: fc.nat(),
      expect: fc.option(fc.nat({ max: 400 }), { nil: undefined }),
    }), { maxLength: 60 }),
    (steps) => {
      const acc = new Cumulator();
      let model = Buffer.alloc(0);
      const handedOut: [Buffer, Buffer][] = [];
      for (const { chunk, consume, expect } of steps) {
        model = Buffer.concat([model, chunk]);
        const data = acc.append(Buffer.from(chunk));
        if (data === undefined) continue; // waiting for the announced size
        if (!data.equals(model)) return false;
        const n = consume % (data.length + 1);
        const message = data.subarray(0, n);
        handedOut.push([message, Buffer.from(message)]);
        const rest = data.subarray(n);
        model = Buffer.from(rest);
        acc.keep(rest, expect === undefined ? 0 : rest.length + expect);
        if (acc.length !== model.length) return false;
      }
      return handedOut.every(([view, copy]) => view.equals(copy));
    },
  ), { numRuns: 300 }));
});

test('cumulator: holds reads until the announced size, then joins them once', (t) => {
  const acc = new Cumulator();
  acc.keep(Buffer.from('10:'), 14);
  t.is(acc.append(Buffer.from('hello')), undefined);
  t.is(acc.length, 8);
  const data = acc.append(Buffer.from('world,'));
  t.is(String(data), '10:helloworld,');
});

test('cumulator: a frame sent a byte at a time is held in one buffer, at most twice what arrived and never more than the frame', (t) => {
  const frameSize = 256 * 1024;
  const frame = Buffer.alloc(frameSize, 'x');
  const acc = new Cumulator();
  acc.keep(frame.subarray(0, 1), frameSize);
  let joined: Buffer | undefined;
  let worst = 0;
  for (let i = 1; i < frameSize && joined === undefined; i++) {
    joined = acc.append(frame.subarray(i, i + 1));
    worst = Math.max(worst, acc.capacity / Math.max(acc.length, 2048));
    if (acc.capacity > frameSize) break;
  }
  t.true(worst <= 2, `storage at most twice the bytes held (worst ${worst.toFixed(2)}x)`);
  t.is(acc.capacity, frameSize, 'the last growth stops at the frame size');
  t.true(joined?.equals(frame), 'the frame comes out whole');
});

test('cumulator: a header claiming a huge frame costs what was sent, not what it claims', (t) => {
  const acc = new Cumulator();
  acc.keep(Buffer.from('1073741824:'), 1024 ** 3 + 12);
  for (let i = 0; i < 100; i++) t.is(acc.append(Buffer.alloc(1000)), undefined);
  t.is(acc.length, 100_011);
  t.true(acc.capacity <= 2 * acc.length, `capacity ${acc.capacity} for ${acc.length} bytes`);
});
