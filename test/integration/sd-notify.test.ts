import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ask } from '../helpers/client.js';
import { eventually, ssInfo, startSs } from '../helpers/ss.js';
import { tempDir } from '../helpers/temp.js';

/**
 * What systemd does with a Type=notify unit's NOTIFY_SOCKET, in python3: a unix datagram
 * socket; each message it receives is printed as one JSON line (the payload), so a test sees
 * the messages in order. It stops after 60 s at most (the test stops it first).
 */
const RECEIVER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
print('ready', flush=True)
end = time.time() + 60
while time.time() < end:
    try:
        data = s.recv(4096)
    except socket.timeout:
        continue
    print(json.dumps(data.decode('utf8', 'replace')), flush=True)
`;

interface Receiver {
  path: string;
  /** Each message's assignments (KEY=value), in the order received. */
  messages: Record<string, string>[];
}

async function receiver(t: ExecutionContext): Promise<Receiver> {
  const path = join(tempDir(t, 'notify'), 'notify.sock');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  const got: Receiver = { path, messages: [] };
  let partial = '';
  let ready!: () => void;
  const started = new Promise<void>((resolve) => { ready = resolve; });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready();
      else {
        const payload = JSON.parse(line) as string;
        // systemd-notify may follow a message with BARRIER=1 (its wait for systemd to read it).
        if (payload === 'BARRIER=1') continue;
        got.messages.push(Object.fromEntries(payload.split('\n').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
      }
    }
  });
  await Promise.race([started, new Promise((_, reject) => setTimeout(() => reject(new Error('the receiver did not start')), 10_000))]);
  return got;
}

/** The first message from index `from` on that has `key`, waited for. */
function message(r: Receiver, key: string, from = 0): Promise<Record<string, string>> {
  return eventually(() => r.messages.slice(from).find((m) => key in m), `a message with ${key}`, 15_000);
}

test('Type=notify: READY=1 once every worker serves, RELOADING=1 then READY=1 around a HUP, STOPPING=1 on TERM; workers do not inherit NOTIFY_SOCKET', async (t) => {
  const r = await receiver(t);
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '2'], { env: { NOTIFY_SOCKET: r.path } });
  const ready = await message(r, 'READY');
  t.is(ready.READY, '1');
  t.is(ready.MAINPID, String(ss.pid), 'sent for the arbiter, the unit\'s main process');
  t.is(ready.STATUS, 'line: 2 workers');
  t.is(await ask(ss.port, 'up'), 'up');
  const info = await ssInfo(ss.pid);
  for (const w of info.workers) t.false(readFileSync(`/proc/${w.pid}/environ`, 'latin1').includes('NOTIFY_SOCKET='), `worker ${w.pid}`);

  const before = r.messages.length;
  process.kill(ss.pid, 'SIGHUP');
  const reloading = await message(r, 'RELOADING', before);
  t.regex(reloading.MONOTONIC_USEC!, /^\d+$/, 'what Type=notify-reload wants with RELOADING=1');
  const again = await message(r, 'READY', before);
  t.true(r.messages.indexOf(again) > r.messages.indexOf(reloading), 'READY=1 after RELOADING=1');
  await ss.waitForLog((l) => l.msg === 'line: reloaded, every worker runs the new config');
  t.is(await ask(ss.port, 'still'), 'still');

  const beforeStop = r.messages.length;
  t.is((await ss.stop('SIGTERM')).code, 0);
  t.is((await message(r, 'STOPPING', beforeStop)).STOPPING, '1', 'sent before the arbiter exited');
});

test('Type=notify with --workers 0: READY=1 once serving, STOPPING=1 on TERM', async (t) => {
  const r = await receiver(t);
  const ss = await startSs(t, ['--plugin', 'echo', '--workers', '0'], { env: { NOTIFY_SOCKET: r.path } });
  const ready = await message(r, 'READY');
  t.is(ready.MAINPID, String(ss.pid));
  t.is(ready.STATUS, `serving echo in process ${ss.pid}`);
  t.is((await ss.stop('SIGTERM')).code, 0);
  await message(r, 'STOPPING');
});

test('NOTIFY_SOCKET set without systemd-notify on PATH: one warning, and the server serves', async (t) => {
  const r = await receiver(t);
  // A PATH holding only node: systemd-notify cannot be found.
  const bin = join(tempDir(t, 'path'), 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const ss = await startSs(t, ['--plugin', 'line', '--workers', '1'], { env: { NOTIFY_SOCKET: r.path, PATH: bin } });
  const warned = await ss.waitForLog((l) => l.msg.startsWith('NOTIFY_SOCKET is set'));
  t.is(warned.msg, 'NOTIFY_SOCKET is set but systemd cannot be told our state (systemd-notify is not on PATH): a Type=notify unit will not see READY=1');
  t.is(await ask(ss.port, 'served'), 'served');
  t.deepEqual(r.messages, []);
  t.true(existsSync(r.path));
});
