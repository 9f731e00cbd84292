import sonicBoom from 'sonic-boom';
import type { Logger } from '@socketserver/core';

// A CommonJS module: its class is a property of the default export (types and runtime agree on that).
const { SonicBoom } = sonicBoom;

/** Lines buffered for a file before a write(2): one syscall for many lines when busy. */
const FILE_BUFFER = 4096;
/**
 * Buffered lines reach the file within this many ms, so a worker killed outright (the watchdog's
 * SIGKILL) loses at most the lines of its last FILE_FLUSH_MS.
 */
const FILE_FLUSH_MS = 100;
/**
 * A pipe write of up to PIPE_BUF (4096) bytes is not split between writers: stdout is shared by
 * every worker (one open file description, inherited), so each write holds whole lines and no
 * more than this (sonic-boom starts a new chunk rather than pass it).
 */
const STDOUT_WRITE = 4096;
/** Past this, lines are dropped (a stuck disk or an unread pipe must not grow memory without bound). */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** How long a stop waits for the last lines to be written. */
const END_MS = 5000;
/** How long the last synchronous write (at exit) waits on a destination that takes nothing (a pipe nobody reads). */
const EXIT_WAIT_MS = 500;

/**
 * Where one process writes its access lines: a file (appended to, reopened on USR1) or stdout,
 * apart from the server's log on stderr (as gunicorn's `--access-logfile -`). Each process opens
 * the file itself, O_APPEND: a write(2) of whole lines goes whole at its end, whoever else appends.
 */
export class Sink {
  private readonly stream: InstanceType<typeof SonicBoom>;
  private failing = false;
  private dropped = 0;
  private ended = false;
  private readonly onExit = () => this.flushSync();
  /** A file's flush timer: armed by a line while disarmed, then kept armed while lines come (see `tick`). */
  private timer: NodeJS.Timeout | undefined;
  private armed = false;
  private more = false;
  /** The last tick saw no new line. */
  private idle = false;
  /** EAGAIN (stdout a non-blocking pipe that is full) is retried until then: always, but at exit. */
  private giveUpAt = Infinity;

  /** `file` is an absolute path, or undefined for stdout. */
  constructor(private readonly file: string | undefined, private readonly log: Logger) {
    this.stream = file === undefined
      ? new SonicBoom({ fd: 1, minLength: 0, maxWrite: STDOUT_WRITE, maxLength: MAX_BUFFERED, retryEAGAIN: () => Date.now() < this.giveUpAt })
      : new SonicBoom({ dest: file, append: true, minLength: FILE_BUFFER, maxLength: MAX_BUFFERED });
    // A write error (disk full, a vanished folder) is logged once, not per line, and never crashes the process.
    this.stream.on('error', (err: Error) => {
      if (!this.failing) this.log.error({ err }, `access log ${this.where}: ${err.message}`);
      this.failing = true;
    });
    this.stream.on('drop', () => {
      if (this.dropped++ === 0) this.log.warn(`access log ${this.where}: writes are not keeping up; lines dropped`);
    });
    // A process that exits without a stop (its arbiter went away) still writes what it holds.
    process.on('exit', this.onExit);
  }

  private get where(): string {
    return this.file ?? 'stdout';
  }

  write(line: string): void {
    if (this.ended) return;
    this.stream.write(line);
    if (this.file === undefined) return;
    if (this.armed) this.more = true;
    else {
      this.armed = true;
      if (this.timer === undefined) (this.timer = setTimeout(() => this.tick(), FILE_FLUSH_MS)).unref();
      else this.timer.refresh();
    }
  }

  /**
   * Write what is buffered. A flush while a write is in flight leaves the lines after it for the
   * next one, so the timer runs once more after the last tick that saw new lines; then a quiet
   * server's timer stops.
   */
  private tick(): void {
    if (this.ended) return;
    try {
      this.stream.flush();
    } catch {
      // destroyed by a failure: its 'error' listener has logged it
    }
    if (this.more || !this.idle) {
      this.idle = !this.more;
      this.more = false;
      this.timer!.refresh();
    } else {
      this.armed = false;
      this.idle = false;
    }
  }

  /** logrotate moved the file: open a new one at the same path (stdout stays). */
  reopen(): void {
    if (this.file === undefined || this.ended) return;
    this.failing = false;
    this.stream.reopen();
  }

  /** Write what is buffered, after any write in flight (which flushSync would not wait for), and close. */
  end(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    clearTimeout(this.timer);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, END_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.stream.once('close', done);
      this.stream.once('error', done);
      this.stream.end();
    }).finally(() => {
      process.off('exit', this.onExit);
      this.flushSync(); // whatever the time limit left
    });
  }

  private flushSync(): void {
    this.giveUpAt = Date.now() + EXIT_WAIT_MS;
    try {
      this.stream.flushSync();
    } catch {
      // closed already, not open yet, the descriptor failed, or it took nothing in time: nothing more can be done at exit
    }
  }
}
