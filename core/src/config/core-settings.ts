import { LOG_FORMATS, LOG_LEVELS } from '../logger.js';
import type { SettingDef } from './registry.js';
import type { SettingsOf } from './setting-types.js';

/** The core settings of docs/design.md §7 that a single process uses. */
/** The protocol plugins ss comes with, as error messages and help name them. */
export const BUNDLED_PROTOCOLS = 'echo, line, netstring, resp, websocket, syslog';

export const coreSettings = {
  bind: {
    flags: ['-b', '--bind'], type: 'bind', repeatable: true, default: '127.0.0.1:8060', meta: 'ADDRESS',
    section: 'Server',
    desc: 'Address to listen on: HOST, HOST:PORT, :PORT (all interfaces), PORT (on 127.0.0.1), [v6]:PORT, unix:PATH, fd://N (an inherited listening socket, N ≥ 3) or udp://HOST:PORT (datagrams: see docs/reference/udp.md); repeatable. Port 0 takes a free port. A unix socket file is removed on stop; a stale one is replaced, a live one refused. Unset anywhere, the sockets systemd passed (LISTEN_FDS) are served.',
  },
  workers: {
    flags: ['-w', '--workers'], type: 'int', min: 0, max: 1024, default: 1, section: 'Processes',
    desc: 'Worker processes per server; 0 serves in the arbiter itself.',
  },
  concurrency: {
    flags: ['--concurrency'], type: 'enum', choices: ['process', 'thread'], default: 'process', section: 'Processes',
    desc: 'process: worker processes; thread: serve in the arbiter (sets workers to 0).',
  },
  balance: {
    flags: ['--balance'], type: 'enum', choices: ['auto', 'shared', 'round-robin', 'reuse-port'], default: 'auto', section: 'Processes',
    desc: 'How connections and datagrams reach workers: shared, reuse-port, round-robin or auto. shared: every worker accepts on the one listening socket (reads the one udp:// socket). reuse-port: each worker has its own socket and the kernel spreads connections, and udp:// senders (Node ≥ 22.12, exit 2 on older Node; unix sockets stay shared). round-robin: the arbiter accepts and hands each connection on (udp:// as shared). auto: reuse-port where Node has it, else shared.',
  },
  timeout: {
    flags: ['-t', '--timeout'], type: 'seconds', min: 0, default: 30, section: 'Processes',
    desc: 'Seconds a worker may go without a heartbeat (its event loop blocked) before it is killed and replaced; 0 = never.',
  },
  max_requests: {
    flags: ['--max-requests'], type: 'int', min: 0, max: 2 ** 53 - 1, default: 0, section: 'Processes',
    desc: 'A worker is replaced gracefully after serving this many requests; 0 = never.',
  },
  max_requests_jitter: {
    flags: ['--max-requests-jitter'], type: 'int', min: 0, max: 2 ** 53 - 1, default: 0, section: 'Processes',
    desc: 'A random 0..N added to max_requests per worker, so that workers do not restart together.',
  },
  pidfile: {
    flags: ['-p', '--pidfile'], type: 'path', meta: 'FILE', section: 'Processes',
    desc: 'Write the arbiter\'s pid here at start and remove it at exit. A stale pidfile is replaced; a live one is refused (exit 1).',
  },
  backlog: {
    flags: ['--backlog'], type: 'int', min: 1, max: 2 ** 31 - 1, default: 2048, section: 'Server',
    desc: 'Listen backlog, and the most clients one process serves at once. More are closed at once, with one warning a second saying how many.',
  },
  max_connections_per_ip: {
    flags: ['--max-connections-per-ip'], type: 'int', min: 0, max: 2 ** 31 - 1, default: 0, section: 'Server',
    desc: 'The most connections one client address may have open in one process (after PROXY: the address in the header); more are closed at once, with one warning a second. 0 = no limit.',
  },
  keep_alive: {
    flags: ['--keep-alive'], type: 'seconds', min: 0, default: 15, section: 'Server',
    desc: 'Seconds a connection may stay idle (no read, no write) before it is closed; 0 = never. A connection waiting for its handler is not idle.',
  },
  frame_timeout: {
    flags: ['--frame-timeout'], type: 'seconds', min: 0, default: 30, section: 'Server',
    desc: 'Seconds a message may take to arrive once its first byte is in; a slower one closes the connection; 0 = never. The close is logged. It catches a client trickling bytes, which is never idle, so keep_alive alone would keep it. Any protocol; not counted while the server makes the client wait.',
  },
  handler_timeout: {
    flags: ['--handler-timeout'], type: 'seconds', min: 0, default: 0, section: 'Server',
    desc: 'Seconds a request may wait for its handler to settle (an async reply); a connection whose oldest outstanding request takes longer is closed, with a log line. 0 = no limit. A handler that blocks the event loop is the watchdog\'s (timeout).',
  },
  max_client_memory: {
    flags: ['--max-client-memory'], type: 'bytes', min: 0, default: '128mb', section: 'Server',
    desc: 'The most memory one connection may hold: the message still arriving (with what the protocol builds per argument), requests in its handler, and replies not yet read by the client. Over it the connection is closed, with a log line. 0 = no limit.',
  },
  maxmemory_clients: {
    flags: ['--maxmemory-clients'], type: 'bytes', min: 0, default: '384mb', section: 'Server',
    desc: 'The most memory all the connections of one process may hold together (as max_client_memory counts it). Over it, the connection holding the most is closed, then the next, until the rest fit. 0 = no limit.',
  },
  udp_max_reply: {
    flags: ['--udp-max-reply'], type: 'bytes', min: 1, max: 65507, default: 65507, section: 'Server',
    desc: 'Largest reply sent to a udp:// bind, in bytes: one over it is dropped and counted. The default is what one IPv4 UDP datagram holds; a reply over the path MTU (1472 on Ethernet) is fragmented by IP and lost whole if a fragment is, so set 1472 where replies must not fragment.',
  },
  udp_amplification: {
    flags: ['--udp-amplification'], type: 'int', min: 0, max: 1000000, default: 1, section: 'Server',
    desc: 'The replies to one datagram on a udp:// bind may together be at most this many times its size (a forged source must not turn the server into an amplifier); more is dropped and counted. A protocol may set its own factor (datagramAmplification). 0 = no limit.',
  },
  push_output_limit: {
    flags: ['--push-output-limit'], type: 'bytes', min: 0, default: '32mb', section: 'Server',
    desc: 'The most output a connection that is pushed to (connection.send, channels) may leave unread; over it the connection is closed as a slow consumer, with a log line, and its publishers never wait. 0 = no limit. As Redis\'s client-output-buffer-limit for pub/sub clients.',
  },
  push_output_soft_limit: {
    flags: ['--push-output-soft-limit'], type: 'bytes', min: 0, default: '8mb', section: 'Server',
    desc: 'Unread output over which a connection that is pushed to is closed as a slow consumer once it has stayed over it for push_output_soft_seconds. 0 = no soft limit.',
  },
  push_output_soft_seconds: {
    flags: ['--push-output-soft-seconds'], type: 'seconds', min: 0, default: 60, section: 'Server',
    desc: 'Seconds unread output may stay over push_output_soft_limit before the connection is closed as a slow consumer.',
  },
  pubsub: {
    flags: ['--pubsub'], type: 'string', meta: 'URL', section: 'Server', validate: redisUrl,
    desc: 'Share channels with the servers of other hosts through Redis pub/sub: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS. Unset, channels are shared by the workers of one server only. Each worker subscribes in Redis to the channels and patterns it has subscribers of, and publishes there too; while Redis is unreachable it reconnects (logged once), and what is published meanwhile does not reach other hosts. A publish counts the receivers of this server only.',
  },
  pubsub_prefix: {
    flags: ['--pubsub-prefix'], type: 'string', default: 'ss:', meta: 'TEXT', section: 'Server',
    desc: 'Put before every channel and pattern name in Redis (with --pubsub), so that the channels of socketserver stay apart from others in the same Redis. Servers that share channels must use the same prefix.',
  },
  proxy_protocol: {
    flags: ['--proxy-protocol'], type: 'enum', choices: ['off', 'v1', 'v2', 'auto'], default: 'off', section: 'Server',
    desc: 'Require a PROXY protocol header (HAProxy\'s) first on every connection: v1 (text), v2 (binary), auto (either) or off. The client\'s address is then the header\'s. With auto the first byte tells which version comes, but a header is still required.',
  },
  proxy_allow_from: {
    flags: ['--proxy-allow-from'], type: 'allow', repeatable: true, default: '127.0.0.1,::1', meta: 'CIDR', section: 'Server',
    desc: 'Proxies that may send a PROXY header: IP addresses and CIDRs, comma-separated or repeatable; * allows any. When proxy_protocol is on, any other peer is closed at once. Entries look like 127.0.0.1, 10.0.0.0/8 or fd00::/8; a bad one exits 2.',
  },
  proxy_header_timeout: {
    flags: ['--proxy-header-timeout'], type: 'seconds', min: 0.1, default: 5, section: 'Server',
    desc: 'Seconds the PROXY header may take to arrive before the connection is closed.',
  },
  graceful_timeout: {
    flags: ['--graceful-timeout'], type: 'seconds', min: 0, default: 30, section: 'Server',
    desc: 'Seconds connections get to finish before they are closed: on stop (TERM), on reload (HUP) and when max_requests replaces a worker.',
  },
  accept_grace: {
    flags: ['--accept-grace'], type: 'seconds', min: 0, default: 0, section: 'Server',
    desc: 'Seconds a graceful stop (TERM) goes on accepting and serving before it closes the listeners. Meanwhile health checks sent with the PROXY LOCAL command are refused, so a load balancer stops sending first.',
  },
  name: {
    flags: ['-n', '--name'], type: 'string', section: 'Server',
    desc: 'Server name in logs, process titles and info (default: the protocol plugin\'s name). In a config with servers, a server\'s key is its default name.',
  },
  plugins: {
    flags: ['--plugin'], type: 'plugins', repeatable: true, meta: 'NAME', section: 'Plugins',
    desc: `Plugin to load: a name (${BUNDLED_PROTOCOLS}, kv, metrics, access-log, or an installed package) or a path; repeatable. In a config file a plugin may come with its settings: ['line', { maxLine: '8kb' }].`,
  },
  handler: {
    flags: ['--handler'], type: 'handler', meta: 'FILE', section: 'Plugins',
    desc: 'Module whose default export handles each message (default: echo, or the handler a plugin supplies). In a config file it may be the function itself.',
  },
  plugin_timeout: {
    flags: ['--plugin-timeout'], type: 'seconds', min: 0, default: 10, section: 'Plugins',
    desc: 'Seconds a plugin may take to start (apply, monitorStart, workerStart) before start-up fails naming it; 0 = no limit.',
  },
  log_level: {
    flags: ['--log-level'], type: 'enum', choices: LOG_LEVELS, default: 'info',
    section: 'Logging', desc: 'Least severe level logged: debug, info, warn or error.',
  },
  log_format: {
    flags: ['--log-format'], type: 'enum', choices: LOG_FORMATS, default: 'auto',
    section: 'Logging', desc: 'Log lines on stderr: pretty (one readable line per event), json (JSON lines), or auto: pretty on a terminal, else json.',
  },
  certfile: {
    flags: ['--certfile'], type: 'path', meta: 'FILE', section: 'TLS',
    desc: 'PEM certificate (chain) served on every bind; TLS is on when set. It needs keyfile: one without the other exits 2.',
  },
  keyfile: {
    flags: ['--keyfile'], type: 'path', meta: 'FILE', section: 'TLS',
    desc: 'PEM private key of certfile.',
  },
  ca_certs: {
    flags: ['--ca-certs'], type: 'path', meta: 'FILE', section: 'TLS',
    desc: 'PEM CA certificates client certificates are checked against (with cert_reqs). For ss send --tls, the CAs the server is checked against.',
  },
  cert_reqs: {
    flags: ['--cert-reqs'], type: 'enum', choices: ['none', 'optional', 'required'], default: 'none', section: 'TLS',
    desc: 'Client certificates: none (not asked for), optional (asked for, checked if given) or required (refused without a valid one). The connection\'s tls.authorized says whether a client\'s certificate is valid.',
  },
  ciphers: {
    flags: ['--ciphers'], type: 'string', meta: 'LIST', section: 'TLS',
    desc: 'OpenSSL cipher list for TLS 1.2 and below (default: Node\'s). TLS 1.3 keeps Node\'s suites; names starting TLS_ set the TLS 1.3 suites instead, and a list of only those serves TLS 1.3 alone. A list that matches no cipher fails start-up naming ciphers (exit 1).',
  },
  tls_min_version: {
    flags: ['--tls-min-version'], type: 'enum', choices: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2', section: 'TLS',
    desc: 'Oldest TLS version accepted. OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level whatever this says: they take effect only with a cipher list at level 0 (--ciphers \'DEFAULT@SECLEVEL=0\').',
  },
  alpn: {
    flags: ['--alpn'], type: 'string', repeatable: true, meta: 'PROTOCOL', section: 'TLS',
    desc: 'ALPN protocol the server accepts, most preferred first; repeatable. The server\'s order decides. A client that offers ALPN but none of these is refused; one that offers no ALPN is served, its tls.alpn false.',
  },
  tls_handshake_timeout: {
    flags: ['--tls-handshake-timeout'], type: 'seconds', min: 0, default: 10, section: 'TLS',
    desc: 'Seconds a client may take to complete the TLS handshake before it is closed; 0 = no limit.',
  },
  config: {
    flags: ['-c', '--config'], type: 'path', meta: 'FILE', section: 'Config',
    desc: 'Config file (default: socketserver.config.ts|js|mjs, .socketserverrc*, or package.json#socketserver in the current directory).',
  },
} as const satisfies Record<string, SettingDef>;

const notInConfig = ['config'] as const;
/** Settings a config file may not set (they choose the config file itself). */
export const NOT_IN_CONFIG: ReadonlySet<string> = new Set(notInConfig);
export type NotInConfig = typeof notInConfig[number];

/** Resolved core settings, as plugins and the server see them: derived from the table above. */
export type CoreSettings = SettingsOf<typeof coreSettings>;

/** What `protocol(cfg)`, `handler(cfg)` and hooks receive: core settings plus every plugin's. */
export type Cfg = CoreSettings & Readonly<Record<string, unknown>>;

/** `--pubsub`: a Redis URL ioredis takes (redis: or rediss:, a host, a port and database if given). */
function redisUrl(text: string): string {
  const accepts = 'a URL such as redis://127.0.0.1:6379 or rediss://:PASSWORD@HOST:6380/2';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(accepts);
  }
  const db = url.pathname.replace(/^\//, '');
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '' || !/^\d{0,5}$/.test(db) || url.search !== '' || url.hash !== '') {
    throw new Error(accepts);
  }
  return text;
}
