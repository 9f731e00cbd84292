import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const CHUNK = 64 * 1024;

/**
 * A named pipe for a server's stderr that this process reads at will: read while the server
 * starts, then left unread and filled to the brim, so that every write to it blocks (or fails
 * with EAGAIN) as a stderr nobody reads does. Three opens of the FIFO: the server's end
 * (blocking, as a pipe from a shell is) and ours (non-blocking) are separate descriptions.
 */
export class UnreadPipe {
  /** The server's stderr. */
  readonly fd: number;
  private readonly readFd: number;
  private readonly fillFd: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(dir: string) {
    const path = join(dir, 'stderr.fifo');
    execFileSync('mkfifo', [path]);
    this.readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.fd = openSync(path, constants.O_WRONLY);
    this.fillFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  }

  /** Read what arrives every 50 ms into `sink`, until `stopReading`. */
  startReading(sink: (text: string) => void): void {
    this.timer ??= setInterval(() => sink(this.readAll()), 50);
  }

  stopReading(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Write to the pipe until it is full; the bytes it took. */
  fill(): number {
    const junk = Buffer.alloc(CHUNK, '.');
    let n = 0;
    for (let i = 0; i < 1024; i++) {
      try {
        n += writeSync(this.fillFd, junk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    return n;
  }

  private readAll(): string {
    const buf = Buffer.alloc(CHUNK);
    let text = '';
    for (let i = 0; i < 1024; i++) {
      let n: number;
      try {
        n = readSync(this.readFd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) break;
      text += buf.toString('utf8', 0, n);
    }
    return text;
  }

  close(): void {
    this.stopReading();
    for (const fd of [this.readFd, this.fd, this.fillFd]) try { closeSync(fd); } catch { /* closed */ }
  }
}
