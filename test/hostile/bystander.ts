import { Worker } from 'node:worker_threads';

/** A client on a stream protocol: `request` answered by exactly `reply`, every ~100 ms. */
export interface StreamSpec {
  kind: 'stream';
  port?: number;
  host?: string;
  /** A unix socket instead of host and port. */
  path?: string;
  localAddress?: string;
  /** Over TLS (the server's certificate is not checked). */
  tls?: boolean;
  /** Sent once on each new connection (a PROXY header). */
  preface?: Uint8Array;
  request: Uint8Array;
  reply: Uint8Array;
  /** A new connection for each request (its connect counted in the reply's time). */
  fresh?: boolean;
  /** With a handler answering `pid`: reconnect until served by another worker than this one. */
  avoidPid?: number;
}

/** A scraper of an HTTP URL (fresh connection each time), 200 wanted. */
export interface HttpSpec {
  kind: 'http';
  url: string;
}

export type BystanderSpec = StreamSpec | HttpSpec;

export interface BystanderResult {
  replies: number;
  /** Longest wait for a reply (a failed request counts its time too). */
  maxMs: number;
  failures: number;
  firstFailure: string | undefined;
}

/** The line protocol's bystander: `ping` echoed. */
export const LINE = { request: Buffer.from('ping\n'), reply: Buffer.from('ping\n') };
/** resp with the echo handler: the command echoed as an array. */
export const RESP_ECHO = { request: Buffer.from('*1\r\n$4\r\nPING\r\n'), reply: Buffer.from('*1\r\n$4\r\nPING\r\n') };
/** kv: PING. */
export const KV = { request: Buffer.from('*1\r\n$4\r\nPING\r\n'), reply: Buffer.from('+PONG\r\n') };
/** netstring with the echo handler. */
export const NETSTRING = { request: Buffer.from('4:ping,'), reply: Buffer.from('4:ping,') };

/**
 * A client that asks every ~100 ms and times each reply, in a thread of its own. `start` resolves
 * once its first request was answered (it is in place); `stop` resolves with what it saw.
 */
export class Bystander {
  private readonly result: Promise<BystanderResult>;

  private constructor(private readonly worker: Worker) {
    this.result = new Promise((resolve) => worker.on('message', (m: { result?: BystanderResult }) => { if (m.result) resolve(m.result); }));
  }

  static start(spec: BystanderSpec): Promise<Bystander> {
    const worker = new Worker(new URL('./bystander-thread.js', import.meta.url), { workerData: spec });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { void worker.terminate(); reject(new Error('bystander: not in place within 15 s')); }, 15_000);
      worker.once('message', (m: { started: boolean; error?: string }) => {
        clearTimeout(timer);
        if (m.started) resolve(new Bystander(worker));
        else reject(new Error(`bystander: first request failed: ${m.error}`));
      });
      worker.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  /** Ask no more (the server is gone: what follows is not the server's doing). */
  halt(): void {
    this.worker.postMessage('stop');
  }

  async stop(): Promise<BystanderResult> {
    this.halt();
    // Its request in flight ends within 5 s (its reply wait): give it twice that.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('bystander did not stop')), 10_000); });
    try {
      return await Promise.race([this.result, late]);
    } finally {
      clearTimeout(timer);
      void this.worker.terminate();
    }
  }
}
