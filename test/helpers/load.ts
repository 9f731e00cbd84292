import { connect, type Socket } from 'node:net';

/** Requests sent back to back, each on its reply, over a few loopback connections until stopped. */
export interface Load {
  /** Replies received so far. */
  readonly replies: () => number;
  /** Stop sending and close the connections. */
  stop(): void;
}

/**
 * Line requests (`hi\n`) to 127.0.0.1:port over `connections` connections, pipelined one deep.
 * Bounded: it stops by itself after `maxMs` or `maxRequests`, whichever comes first.
 */
export function lineLoad(port: number, { connections = 4, maxMs = 60_000, maxRequests = 5_000_000 } = {}): Load {
  let replies = 0;
  let stopped = false;
  const sockets: Socket[] = [];
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
  };
  const timer = setTimeout(stop, maxMs);
  for (let i = 0; i < connections; i++) {
    const s = connect(port, '127.0.0.1', () => s.write('hi\n'));
    s.on('error', () => { /* the server may stop first */ });
    s.on('data', (b: Buffer) => {
      replies += b.toString('latin1').split('\n').length - 1;
      if (replies >= maxRequests) stop();
      else if (!stopped) s.write('hi\n');
    });
    sockets.push(s);
  }
  return { replies: () => replies, stop };
}
