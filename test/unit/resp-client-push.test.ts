import test from 'ava';
import { RespClientProtocol, RespError, type RespRequest, type RespValue } from '@socketserver/plugin-resp';

// Which RESP messages a client takes as pushes: given the requests outstanding, in order, and
// the messages that come, which requests get which reply and what is left over as pushes.

function sort(requests: RespRequest[], messages: RespValue[]): { replies: unknown[]; pushes: unknown[] } {
  const p = new RespClientProtocol();
  const pending = [...requests];
  const replies: unknown[] = [];
  const pushes: unknown[] = [];
  for (const m of messages) {
    const push = p.isPush(m, pending[0]);
    if (push || pending.length === 0) pushes.push(show(m));
    else {
      pending.shift();
      replies.push(show(m));
    }
  }
  return { replies, pushes };
}

const b = (s: string) => Buffer.from(s);
const show = (v: RespValue): unknown => (Buffer.isBuffer(v) ? v.toString() : Array.isArray(v) ? v.map(show) : v instanceof RespError ? `-${v.message}` : v);
const conf = (kind: string, name: string, n: number): RespValue => [b(kind), b(name), n];

test('a name refused among those of one SUBSCRIBE is answered with an error, still counted as one of its replies', (t) => {
  const r = sort([['SUBSCRIBE', 'a', 'b'], ['SUBSCRIBE', 'c']], [new RespError('ERR refused'), conf('subscribe', 'b', 1), conf('subscribe', 'c', 2)]);
  t.deepEqual(r.replies, ['-ERR refused', ['subscribe', 'c', 2]]);
  t.deepEqual(r.pushes, [['subscribe', 'b', 1]]);
});

test('message arrays are pushes only while subscribed; an error to another command answers it', (t) => {
  const before = sort([['MGET', 'k', 'l', 'm']], [[b('message'), b('x'), b('y')]]);
  t.deepEqual(before, { replies: [['message', 'x', 'y']], pushes: [] });
  const during = sort([['SUBSCRIBE', 'x'], ['GET', 'k']], [conf('subscribe', 'x', 1), [b('message'), b('x'), b('hi')], new RespError('ERR only (P|S)SUBSCRIBE …')]);
  t.deepEqual(during.replies, [['subscribe', 'x', 1], '-ERR only (P|S)SUBSCRIBE …']);
  t.deepEqual(during.pushes, [['message', 'x', 'hi']]);
});

test('an UNSUBSCRIBE of all is answered once per channel held, counted apart from patterns', (t) => {
  const r = sort([['SUBSCRIBE', 'a', 'b'], ['PSUBSCRIBE', 'p*'], ['UNSUBSCRIBE'], ['PING']], [
    conf('subscribe', 'a', 1), conf('subscribe', 'b', 2), conf('psubscribe', 'p*', 3),
    conf('unsubscribe', 'a', 2), conf('unsubscribe', 'b', 1), [b('pong'), b('')],
  ]);
  t.deepEqual(r.replies, [['subscribe', 'a', 1], ['psubscribe', 'p*', 3], ['unsubscribe', 'a', 2], ['pong', '']]);
  t.deepEqual(r.pushes, [['subscribe', 'b', 2], ['unsubscribe', 'b', 1]]);
});
