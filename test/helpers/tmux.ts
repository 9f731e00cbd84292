import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/**
 * A command in a real pseudo-terminal: a private tmux server (its own socket in `dir`)
 * with one 80x24 window, killed at teardown with whatever still runs in it.
 */
export class Pane {
  private readonly socket: string;

  constructor(t: ExecutionContext, dir: string, command: string, { width = 80, height = 24 } = {}) {
    this.socket = join(dir, 'tmux.sock');
    const env = process.env.XDG_RUNTIME_DIR ? ['-e', `XDG_RUNTIME_DIR=${process.env.XDG_RUNTIME_DIR}`] : [];
    t.teardown(() => { try { this.tmux('kill-server'); } catch { /* already gone */ } });
    this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', String(width), '-y', String(height), ...env, command);
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  /** The text on the screen now, one string per row. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'top').split('\n');
  }

  /** Type keys, in tmux's names (`q`, `C-c`). */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'top', ...keys);
  }

  /** A tmux format about the pane: `#{alternate_on}`, `#{cursor_flag}`, `#{pane_pid}`. */
  show(format: string): string {
    return this.tmux('display-message', '-p', '-t', 'top', format).trim();
  }
}
