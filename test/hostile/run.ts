// `npm run hostile`: the hostile-client suite (issue 17's table). Each attack runs on a fresh
// `ss serve` while a bystander on the same worker asks every ~100 ms, and passes when
//   - no worker died (the same worker pids at the end, no "exited"/"silent"/"killed" log line,
//     no restart counted), except the deaths an attack causes on purpose;
//   - the process tree (arbiter and workers) stayed under 1 GiB RSS, sampled every 100 ms;
//   - every bystander request was answered, each within 1.5 s;
//   - the attack's own checks held (a reply wanted, a count, a log line).
// One line per attack, then a summary; exit 1 if any failed.
//
//   npm run hostile -- [--only 1,3b,14]     (a number runs every part of its row: 2 = 2a, 2b)
//
// Loopback only. Each attack is bounded in bytes and by time (its signal aborts after 30 s;
// each stops itself sooner); over 1.2 GiB the server is killed at once, to spare the machine.
import { setMaxListeners } from 'node:events';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from '../helpers/wait.js';
import { ATTACK_S, type Attack, type Ctx } from './attack.js';
import { kvAttacks } from './attacks/kv.js';
import { operationsAttacks } from './attacks/operations.js';
import { respAttacks } from './attacks/resp.js';
import { streamAttacks } from './attacks/streams.js';
import { Bystander, type BystanderResult } from './bystander.js';
import { alive, rss, Server } from './server.js';
import { mib, MiB } from './tools.js';
import { UnreadPipe } from './unread-pipe.js';

const ATTACKS: Attack[] = [...respAttacks, ...kvAttacks, ...streamAttacks, ...operationsAttacks];

const RSS_LIMIT = 1024 * MiB;
/** Past this the server is killed: the attack has failed, and the machine is shared. */
const RSS_STOP = 1.2 * 1024 * MiB;
const BYSTANDER_MAX_MS = 1500;
const PREPARE_S = 90;

const { values: opt } = parseArgs({ options: { only: { type: 'string' } } });
const wanted = opt.only?.split(',').map((s) => s.trim()).filter(Boolean);
const row = (id: string) => id.replace(/[a-z]$/, '');
const selected = wanted ? ATTACKS.filter((a) => wanted.includes(a.id) || wanted.includes(row(a.id))) : ATTACKS;
const unknown = wanted?.filter((w) => !ATTACKS.some((a) => a.id === w || row(a.id) === w)) ?? [];
if (unknown.length > 0 || selected.length === 0) {
  console.error(`hostile: --only: no attack ${unknown.join(', ') || opt.only}; attacks: ${ATTACKS.map((a) => a.id).join(', ')}`);
  process.exit(2);
}

/** The tree's RSS every 100 ms: its most, and a call to `over` (once) past RSS_STOP. */
class MemoryWatch {
  max = 0;
  /** The tree's RSS when the watch began (after the attack's preparation). */
  readonly start: number;
  private readonly timer: NodeJS.Timeout;

  constructor(ss: Server, over: () => void) {
    this.start = this.max = ss.tree().reduce((sum, pid) => sum + rss(pid), 0);
    let tripped = false;
    this.timer = setInterval(() => {
      const total = ss.tree().reduce((sum, pid) => sum + rss(pid), 0);
      this.max = Math.max(this.max, total);
      if (total > RSS_STOP && !tripped) {
        tripped = true;
        over();
      }
    }, 100);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Worker deaths seen three ways (the largest counts): pids gone, log lines, restarts in `ss info`. */
async function deaths(ss: Server): Promise<{ count: number; why: string; info: boolean }> {
  const lines = ss.deathLines();
  const lost = ss.workers.filter((pid) => !alive(pid)).length;
  let restarts = 0;
  let info = true;
  try {
    restarts = (await ss.info()).monitors.reduce((n, m) => n + m.restarts.crash + m.restarts.timeout, 0);
  } catch {
    info = false;
  }
  const count = Math.max(lost, lines.length, restarts);
  const why = lines[0] ? `: ${/worker \d+ \(pid \d+\)[^"]*/.exec(lines[0])?.[0] ?? lines[0].slice(0, 120)}` : '';
  return { count, why, info };
}

function bystanderText(b: BystanderResult | undefined): string {
  if (!b) return 'bystander not in place';
  const failed = b.failures > 0 ? `, ${b.failures} failed: ${b.firstFailure}` : '';
  return `bystander max ${Math.round(b.maxMs)} ms (${b.replies} replies${failed})`;
}

async function runAttack(a: Attack): Promise<boolean> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `ss-hostile-${a.id}-`)));
  const notes: string[] = [];
  const checks: { text: string; ok: boolean }[] = [];
  const fail = (text: string) => checks.push({ text, ok: false });
  let pipe: UnreadPipe | undefined;
  let ss: Server | undefined;
  let bystander: Bystander | undefined;
  let seen: BystanderResult | undefined;
  let watch: MemoryWatch | undefined;
  let killed = false;
  try {
    pipe = a.unreadStderr ? new UnreadPipe(dir) : undefined;
    const server = ss = new Server(a.args(dir), { env: a.env, stderrFd: pipe?.fd });
    pipe?.startReading((s) => { server.stderr += s; });
    const port = await ss.ready();
    const preparing = AbortSignal.timeout(PREPARE_S * 1000);
    setMaxListeners(0, preparing); // every connection of an attack waits on it
    const ctx: Ctx = {
      ss, port, dir, signal: preparing, state: { pipe },
      note: (text) => notes.push(text),
      check: (text, ok) => checks.push({ text, ok }),
    };
    await a.prepare?.(ctx);
    if (preparing.aborted) throw new Error(`not prepared within ${PREPARE_S} s`);
    const attack = new AbortController();
    ctx.signal = attack.signal;
    setMaxListeners(0, attack.signal);
    const asking = bystander = await Bystander.start(a.bystander(ctx));
    watch = new MemoryWatch(server, () => {
      killed = true;
      asking.halt();
      attack.abort();
      server.kill();
    });
    const timer = setTimeout(() => attack.abort(), ATTACK_S * 1000);
    try {
      await a.run(ctx);
    } catch (err) {
      fail(`attack failed: ${(err as Error).message}`);
    }
    clearTimeout(timer);
    if (!killed) await sleep(1000); // what the server took in may still be growing it
    seen = await bystander.stop();
    bystander = undefined;
    watch.stop();

    if (killed) fail(`RSS past ${mib(RSS_STOP)}: server killed`);
    else if (watch.max >= RSS_LIMIT) fail(`RSS over ${mib(RSS_LIMIT)}`);
    if (seen.failures > 0) fail(`${seen.failures} bystander requests failed`);
    else if (seen.maxMs >= BYSTANDER_MAX_MS) fail(`bystander waited over ${BYSTANDER_MAX_MS} ms`);
    if (!killed) {
      if (!alive(ss.pid)) fail('the arbiter died');
      const d = await deaths(ss);
      if (!d.info) fail('the arbiter did not answer ss info within 5 s');
      const unexpected = d.count - (a.deaths ?? 0);
      if (unexpected > 0) fail(`${unexpected} worker death${unexpected > 1 ? 's' : ''} not caused on purpose${d.why}`);
    }
  } catch (err) {
    fail((err as Error).message.split('\n')[0]!);
  } finally {
    await bystander?.stop().catch(() => undefined);
    watch?.stop();
    pipe?.startReading(() => { /* drained, so that the server can log its way out */ });
    await ss?.stop();
    pipe?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ok = checks.every((c) => c.ok);
  const said = a.said ? ` [${a.said}]` : '';
  const figures = `${watch ? `RSS ${mib(watch.start)} → max ${mib(watch.max)}` : 'RSS ?'}, ${bystanderText(seen)}`;
  const facts = [...notes, ...checks.filter((c) => c.ok).map((c) => c.text)];
  const failures = checks.filter((c) => !c.ok).map((c) => c.text);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${a.id.padEnd(3)} ${a.title}${said}: ${figures}${facts.length ? `; ${facts.join('; ')}` : ''}`
    + `${failures.length ? ` — FAILED: ${failures.join('; ')}` : ''}`);
  return ok;
}

const t0 = Date.now();
const failedIds: string[] = [];
for (const a of selected) {
  console.error(`hostile: ${a.id} ${a.title}…`);
  if (!await runAttack(a)) failedIds.push(a.id);
}
const took = Math.round((Date.now() - t0) / 1000);
console.log(`\nhostile: ${selected.length} attacks in ${took} s: ${selected.length - failedIds.length} ok, ${failedIds.length} failed${failedIds.length ? ` (${failedIds.join(', ')})` : ''}`);
process.exitCode = failedIds.length ? 1 : 0;
