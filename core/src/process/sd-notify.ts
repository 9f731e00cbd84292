import type { Logger } from '../logger.js';

/**
 * systemd's readiness protocol (sd_notify(3)) for a `Type=notify` (or `notify-reload`) unit:
 * READY=1 once serving, RELOADING=1 and READY=1 around a HUP, STOPPING=1 on a stop. Node cannot
 * send a unix datagram, so systemd's own `systemd-notify` sends each message, with `--pid` of
 * this process: run as root it sends with our credentials (the unit's main PID), otherwise as
 * itself, which the unit accepts with `NotifyAccess=all`. Messages go one at a time, in order.
 * NOTIFY_SOCKET is taken out of the environment, so workers and plugins do not inherit it.
 */
export class SdNotify {
  private readonly socket: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(private readonly log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  ready(status: string): void {
    this.send(['READY=1', `STATUS=${status}`]);
  }

  /** CLOCK_MONOTONIC in µs, as `Type=notify-reload` wants with RELOADING=1 (Node's hrtime is that clock). */
  reloading(): void {
    this.send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, 'STATUS=reloading']);
  }

  stopping(): void {
    this.send(['STOPPING=1', 'STATUS=stopping']);
  }

  /** Resolves once every message asked for so far has been sent (or failed). */
  flushed(): Promise<void> {
    return this.queue;
  }

  private send(assignments: string[]): void {
    const socket = this.socket;
    if (socket === undefined) return;
    this.queue = this.queue.then(() => this.run(socket, assignments));
  }

  private run(socket: string, assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      const { spawn } = process.getBuiltinModule('node:child_process');
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], {
        env: { ...process.env, NOTIFY_SOCKET: socket }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 400) stderr += s; });
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.warn(err.code === 'ENOENT' ? 'systemd-notify is not on PATH' : err.message);
        resolve();
      });
      child.once('close', (code) => {
        if (code !== 0 && code !== null) this.warn(`systemd-notify exited with ${code}: ${stderr.trim().split('\n')[0] ?? ''}`);
        resolve();
      });
    });
  }

  private warn(why: string): void {
    if (this.warned) return;
    this.warned = true;
    this.log.warn(`NOTIFY_SOCKET is set but systemd cannot be told our state (${why}): a Type=notify unit will not see READY=1`);
  }
}
