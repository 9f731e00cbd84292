import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { definePlugin, type PluginApp, type PluginSettings, type Request } from '@socketserver/core';
import { compileFormat, DEFAULT_FORMAT, parseFormat, type Formatter, type LoggedConnection } from './format.js';
import { Sink } from './sink.js';

export { compileFormat, parseFormat, DEFAULT_FORMAT, JSON_FORMAT, TOKENS, type Formatter, type LineContext, type LoggedConnection } from './format.js';
export { clfTime } from './clf-time.js';
export { jsonFormatter, jsonString } from './json-line.js';

const settings = {
  accessLog: {
    flags: ['--access-log'], type: 'path', default: '-', meta: 'FILE', section: 'access-log',
    desc: 'Where access lines go: a file (appended to; reopened on USR1) or - for stdout (the server\'s own log stays on stderr: the two never mix).',
  },
  accessLogFormat: {
    flags: ['--access-log-format'], type: 'string', default: DEFAULT_FORMAT, meta: 'FORMAT', section: 'access-log',
    desc: 'An access line: json (one JSON object per line, with every token\'s field), or text and {tokens}. The tokens: {time} {iso} {kind} {peer} {conn} {worker} {pid} {server} {seq} {requests} {bytes_in} {bytes_out} {duration} {reason}.',
    validate: (format: string) => (parseFormat(format), format),
  },
  accessLogLines: {
    flags: ['--access-log-lines'], type: 'enum', choices: ['connection', 'request', 'both'], default: 'connection', section: 'access-log',
    desc: 'A line per connection as it closes, per request as it is answered, or both.',
  },
} as const satisfies PluginSettings;
type AccessLogApp = PluginApp<typeof settings>;

/** `accessLog`'s file, relative to the config file's folder when set there, else to the working directory; undefined: stdout. */
function logFile(app: AccessLogApp): string | undefined {
  const given = app.cfg.accessLog;
  if (given === '-') return undefined;
  const source = app.settings.sources.accessLog!;
  const base = source.kind === 'config' && app.discovery.config ? app.discovery.config.dir : app.discovery.cwd;
  return resolve(base, given);
}

/** Fail start-up naming the setting, rather than losing every line later: open it once for appending (which creates it). */
function checkWritable(app: AccessLogApp, file: string): void {
  try {
    closeSync(openSync(file, 'a'));
  } catch (err) {
    const named = app.discovery.registry.nameSource('accessLog', app.settings.sources.accessLog!);
    throw new Error(`${named} "${app.cfg.accessLog}": cannot open ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export default definePlugin({
  name: 'access-log',
  settings,
  apply(app) {
    const file = logFile(app);
    if (file !== undefined) checkWritable(app, file);
    const lines = app.cfg.accessLogLines;
    // Opened only where connections are served: a worker, or the arbiter with workers 0.
    let sink: Sink | undefined;
    let line: Formatter | undefined;

    app.hooks.workerStart.tap('access-log', (worker) => {
      line = compileFormat(app.cfg.accessLogFormat, { worker: worker.id, pid: worker.pid, server: worker.name });
      sink = new Sink(file, app.log);
    });
    app.hooks.reopen.tap('access-log', () => sink?.reopen());
    app.hooks.workerStop.tapPromise('access-log', async () => {
      await sink?.end();
      sink = undefined;
    });

    if (lines !== 'request') {
      const connectionLine = (c: LoggedConnection) => {
        const now = Date.now();
        sink?.write(line!(c, c.peer, undefined, now - c.openedAt, now));
      };
      app.hooks.connectionLost.tap('access-log', connectionLine);
      // A connection closed in its PROXY or TLS stage, never served: a line too, with its reason (proxy_error, tls_error).
      app.hooks.connectionFailed.tap('access-log', connectionLine);
    }
    if (lines !== 'connection') {
      // A request's handler time: from preRequest to postRequest (an async handler's too). A request
      // whose handler failed has no postRequest: its entry goes with it (the connection line says handler_error).
      const started = new WeakMap<Request, number>();
      app.hooks.preRequest.tap('access-log', (r) => { started.set(r, performance.now()); });
      app.hooks.postRequest.tap('access-log', (r) => {
        const ms = performance.now() - (started.get(r) ?? performance.now());
        sink?.write(line!(r.connection, r.connection.peer, r, ms, Date.now()));
      });
    }
  },
});
