import type { ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { sleep } from './wait.js';

// Headless Chromium (Debian's `chromium`, installed by .ci/run) driven over the DevTools protocol
// on a pipe: fd 3 carries our commands, fd 4 its answers and events, each message JSON ended by a
// NUL. No WebSocket client is needed, so it works on every Node the suite runs on.

/** The command, or undefined when none is installed (a test then fails saying so). */
export const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

/** How long one DevTools command may take before the test fails rather than hangs. */
const COMMAND_MS = 20_000;

export interface LaunchOptions {
  /** For wss:// and https:// to the tests' self-signed certificates (test/helpers/certs.ts). */
  ignoreCertificateErrors?: boolean;
}

interface Pending {
  resolve(result: Record<string, any>): void;
  reject(err: Error): void;
}

/** One DevTools connection over the pipe: commands with ids, answers matched back. */
class Pipe {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  private closed: Error | undefined;

  constructor(private readonly out: Writable, input: Readable) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffered += chunk;
      let end: number;
      while ((end = this.buffered.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffered.slice(0, end)) as { id?: number; result?: Record<string, any>; error?: { message: string } };
        this.buffered = this.buffered.slice(end + 1);
        const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
        if (!waiting) continue; // an event: nothing here waits for events
        this.pending.delete(message.id!);
        if (message.error) waiting.reject(new Error(message.error.message));
        else waiting.resolve(message.result ?? {});
      }
    });
    input.on('close', () => this.fail(new Error('chromium closed the DevTools pipe')));
    out.on('error', (err) => this.fail(err));
  }

  private fail(err: Error): void {
    this.closed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium did not answer ${method} within ${COMMAND_MS} ms`));
      }, COMMAND_MS);
      const settle = <T>(f: (v: T) => void) => (v: T) => { clearTimeout(timer); f(v); };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }
}

/** A tab: navigate it, evaluate JavaScript in it, wait for what its script shows. */
export class Page {
  constructor(private readonly pipe: Pipe, private readonly sessionId: string) {}

  /** Load `url` and wait (bounded) until the document has loaded. */
  async goto(url: string, timeoutMs = 20_000): Promise<void> {
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`chromium could not load ${url}: ${r.errorText}`);
    await this.waitFor("document.readyState === 'complete'", `${url} to load`, timeoutMs);
  }

  /** The value of a JavaScript expression in the page (a promise is awaited); a thrown error rejects. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails as { text: string; exception?: { description?: string } };
      throw new Error(`in the page, ${expression}: ${d.exception?.description ?? d.text}`);
    }
    return (r.result as { value?: T }).value as T;
  }

  /** Poll `expression` every 100 ms until it is truthy; its value, or a rejection after `timeoutMs` naming `what`. */
  async waitFor<T = unknown>(expression: string, what: string, timeoutMs = 10_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await this.evaluate<T>(expression);
        if (v) return v;
        last = v;
      } catch (err) {
        last = (err as Error).message; // a page still loading has no such element yet
      }
      if (Date.now() >= until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${expression} was ${JSON.stringify(last)})`);
      await sleep(100);
    }
  }

  /** The text of the first element matching `selector`, or null when there is none. */
  text(selector: string): Promise<string | null> {
    return this.evaluate<string | null>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`);
  }

  /** Wait until the element matching `selector` holds `text` (a string contained, or a regexp matched); its whole text. */
  async waitForText(selector: string, text: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const el = `document.querySelector(${JSON.stringify(selector)})?.textContent`;
    const test = typeof text === 'string'
      ? `(${el} ?? '').includes(${JSON.stringify(text)})`
      : `new RegExp(${JSON.stringify(text.source)}, ${JSON.stringify(text.flags)}).test(${el} ?? '')`;
    try {
      return await this.waitFor<string>(`${test} && ${el}`, `${selector} to hold ${String(text)}`, timeoutMs);
    } catch (err) {
      const now = await this.text(selector).catch(() => undefined);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${selector} to hold ${String(text)}; it holds ${JSON.stringify(now)}`, { cause: err });
    }
  }

  private send(method: string, params: Record<string, unknown>): Promise<Record<string, any>> {
    return this.pipe.send(method, params, this.sessionId);
  }
}

/** A headless Chromium of one test's: stopped, with every process it started, at the test's teardown. */
export class Chromium {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly pipe: Pipe,
    private readonly exited: Promise<void>,
    /** Its profile folder, named in the command line of each of its processes. */
    readonly profile: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Start Chromium with a fresh profile. It runs in a process group of its own (its pid is the
   * group's id) so that teardown can kill its renderers, zygote and crash handler with it.
   */
  static async launch(t: Pick<ExecutionContext, 'teardown'>, opts: LaunchOptions = {}): Promise<Chromium> {
    if (!CHROMIUM) throw new Error('chromium is not installed (.ci/run installs Debian\'s chromium)');
    const profile = mkdtempSync(join(tmpdir(), 'ss-chromium-'));
    const args = [
      '--headless', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
      // Chromium refuses to start as root with its sandbox on (CI and these machines run as root);
      // the pages it loads here are the tests' own.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // Loopback only: no proxy, no name resolved but localhost and 127.0.0.1, none of the browser's own
      // background traffic (updates, metrics, sync).
      '--no-proxy-server', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps',
      '--disable-extensions', '--disable-domain-reliability', '--no-first-run', '--no-default-browser-check',
      '--mute-audio', '--password-store=basic',
      ...(opts.ignoreCertificateErrors ? ['--ignore-certificate-errors'] : []),
      'about:blank',
    ];
    // Its crash handler leaves the process group (it double-forks, and it cannot be turned off:
    // without it the network service crashes); with its config folder in the profile, the
    // handler's command line names the profile too, so that teardown finds it.
    const env = { ...process.env, XDG_CONFIG_HOME: join(profile, 'config') };
    const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true, env });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-4000); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const browser = new Chromium(child, new Pipe(child.stdio[3] as Writable, child.stdio[4] as Readable), exited, profile);
    t.teardown(async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    });
    try {
      await browser.pipe.send('Browser.getVersion');
    } catch (err) {
      throw new Error(`chromium did not start: ${(err as Error).message}\n${stderr}`);
    }
    return browser;
  }

  /** A new tab, blank until `goto`. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.pipe.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.pipe.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this.pipe, sessionId as string);
    return page;
  }

  /** A new tab loaded from `url`. */
  async open(url: string): Promise<Page> {
    const page = await this.newPage();
    await page.goto(url);
    return page;
  }

  /**
   * Close the browser (Browser.close, then KILL its process group and any process naming its
   * profile if they linger) and resolve once none is left. Teardown does it anyway; a test calls
   * it to check what is left.
   */
  close(): Promise<void> {
    return this.stopping ??= this.stop();
  }

  private async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.pipe.send('Browser.close').catch(() => undefined);
      await Promise.race([this.exited, sleep(5000)]);
    }
    const left = () => [...(groupAlive(pid) ? [-pid] : []), ...processesNaming(this.profile)];
    for (let i = 0; i < 100 && left().length > 0; i++) {
      for (const p of left()) try { process.kill(p, 'SIGKILL'); } catch { /* gone meanwhile */ }
      await sleep(50);
    }
    if (left().length > 0) throw new Error(`chromium (${left().join(', ')}) still alive after SIGKILL`);
  }
}

/** The pids of the processes whose command line contains `text` (a unique temp path). */
function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** Does any process remain in the group `pgid`? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
