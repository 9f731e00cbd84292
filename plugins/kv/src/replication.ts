/**
 * A primary for Redis replicas (Redis 7.0's SYNC, PSYNC, REPLCONF): a replica gets the key space
 * as an RDB, then every change as Redis propagates it — each write command once it has run,
 * rewritten where Redis rewrites it (relative TTLs made absolute…), a DEL for each key deleted by
 * expiry or eviction, the commands of one call wrapped in MULTI/EXEC when there are several.
 * Per process: a replica gets the key space of the worker its connection landed in.
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from '@socketserver/core';
import { Raw, encodedLength, error, type Reply } from '@socketserver/plugin-resp';
import { NOT_INTEGER, NO_REPLY, OK, SYNTAX, parseInt64, upper, type CommandTable, type Context } from './command.js';
import { configOf } from './config.js';
import { rdbFile } from './rdb.js';
import { perStore, type ChangeFeed, type Store } from './store.js';

const SELECT_0 = [Buffer.from('SELECT'), Buffer.from('0')];
const PING = [Buffer.from('PING')];
const MULTI = [Buffer.from('MULTI')];
const EXEC = [Buffer.from('EXEC')];
/** How often replicas are looked at: pinged when repl-ping-replica-period is up, forgotten once closed. */
const CRON_MS = 1000;
/**
 * The stream is held for a replica while its snapshot is still being written (an RDB may be far
 * larger than the push output limits let a client leave unread): until under this much is
 * unwritten, and at most HELD_LIMIT of it (Redis's replica output limit), past which it is closed.
 */
const RELEASE_BELOW = 1024 * 1024;
const HELD_LIMIT = 256 * 1024 * 1024;

interface Replica {
  readonly connection: Connection;
  /** REPLCONF listening-port and ip-address, for INFO. */
  port: number;
  ip: string | undefined;
  /** The offset its last REPLCONF ACK gave, and when. */
  acked: number;
  ackedAt: number;
  /** The stream since its snapshot, while that is still being written (copies: arguments are views of a read). */
  held: Buffer[][] | undefined;
  heldBytes: number;
}

export class Replication implements ChangeFeed {
  /** The stream's id and how many bytes it has carried (INFO's master_replid and master_repl_offset, PSYNC's reply). */
  readonly replid = randomBytes(20).toString('hex');
  offset = 0;
  /** Nesting of command calls under way (EXEC runs its commands as calls): what they propagate waits for the outermost to end. */
  depth = 0;
  private pending: Buffer[][] = [];
  private readonly replicas = new Map<Connection, Replica>();
  /** The stream has said SELECT since the last replica joined (Redis says it again for every new one). */
  private selected = false;
  private timer: NodeJS.Timeout | undefined;
  private lastPing = Date.now();
  /** What a connection said of itself (REPLCONF) before its SYNC. */
  private readonly announced = new WeakMap<Connection, { port: number; ip: string | undefined }>();

  constructor(private readonly store: Store) {}

  get size(): number {
    return this.replicas.size;
  }

  has(connection: Connection): boolean {
    return this.replicas.has(connection);
  }

  /** A command to propagate: at once outside a command call (the active expire cycle), else when the call ends. */
  feed(command: Buffer[]): void {
    if (this.depth > 0) this.pending.push(command);
    else this.send([command]);
  }

  /** The outermost call ended: what it propagated goes out, in MULTI/EXEC when more than one command. */
  flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    this.send(pending.length === 1 ? pending : [MULTI, ...pending, EXEC]);
  }

  private send(commands: readonly Buffer[][]): void {
    if (!this.selected) {
      this.selected = true;
      this.write(SELECT_0);
    }
    for (const command of commands) this.write(command);
  }

  private write(command: readonly Buffer[]): void {
    const bytes = encodedLength(command); // the replication offset counts the stream's bytes
    this.offset += bytes;
    for (const replica of this.replicas.values()) {
      if (replica.held !== undefined && !this.release(replica)) {
        replica.held.push(command.map((b) => Buffer.from(b)));
        replica.heldBytes += bytes;
        if (replica.heldBytes > HELD_LIMIT) this.drop(replica);
      } else if (!replica.connection.send(command)) {
        this.detach(replica.connection); // closed, or over the push output limits (closed then)
      }
    }
  }

  /** Once its snapshot is nearly written, a replica gets the stream held for it; false while not yet. */
  private release(replica: Replica): boolean {
    if (replica.connection.socket.writableLength >= RELEASE_BELOW) return false;
    const held = replica.held ?? [];
    replica.held = undefined;
    replica.heldBytes = 0;
    for (const command of held) {
      if (!replica.connection.send(command)) {
        this.detach(replica.connection);
        break;
      }
    }
    return true;
  }

  private drop(replica: Replica): void {
    replica.connection.socket.destroy();
    this.detach(replica.connection);
  }

  /** A connection becomes a replica: what follows its snapshot goes to it. */
  attach(connection: Connection): void {
    this.replicas.set(connection, { connection, port: 0, ip: undefined, acked: 0, ackedAt: Date.now(), held: [], heldBytes: 0 });
    this.selected = false;
    this.store.replicas = this;
    this.timer ??= setInterval(() => this.cron(), CRON_MS).unref();
  }

  private detach(connection: Connection): void {
    this.replicas.delete(connection);
    if (this.replicas.size > 0) return;
    this.store.replicas = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Closed replicas are forgotten; the others are pinged every repl-ping-replica-period seconds (so a quiet primary is not taken for dead). */
  private cron(): void {
    for (const [connection, replica] of this.replicas) {
      if (connection.socket.destroyed) this.detach(connection);
      else if (replica.held !== undefined) this.release(replica);
    }
    const period = Number(configOf(this.store).kept.get('repl-ping-replica-period') ?? 10) * 1000;
    const now = Date.now();
    if (this.replicas.size === 0 || now - this.lastPing < period) return;
    this.lastPing = now;
    this.write(PING);
  }

  /** REPLCONF from a replica (or a connection about to be one). */
  replconf(connection: Connection | undefined, name: Buffer, value: Buffer): Reply | typeof NO_REPLY {
    const replica = connection === undefined ? undefined : this.replicas.get(connection);
    switch (upper(name)) {
      case 'ACK': {
        // The replica's offset, once a second: no reply, as Redis.
        const n = parseInt64(value);
        if (replica !== undefined && n !== undefined) {
          replica.acked = Number(n);
          replica.ackedAt = Date.now();
        }
        return NO_REPLY;
      }
      case 'LISTENING-PORT': {
        const n = parseInt64(value);
        if (n === undefined) return NOT_INTEGER;
        if (connection !== undefined) this.about(connection).port = Number(n);
        return OK;
      }
      case 'IP-ADDRESS':
        if (connection !== undefined) this.about(connection).ip = value.toString('latin1');
        return OK;
      case 'CAPA': case 'RDB-ONLY': case 'RDB-FILTER-ONLY': case 'GETACK':
        return OK;
      default:
        return error(`ERR Unrecognized REPLCONF option: ${name.toString('latin1')}`);
    }
  }

  /** What a connection says of itself (REPLCONF): its replica's entry, or what it said before its SYNC. */
  private about(connection: Connection): { port: number; ip: string | undefined } {
    const replica = this.replicas.get(connection);
    if (replica !== undefined) return replica;
    let said = this.announced.get(connection);
    if (said === undefined) this.announced.set(connection, said = { port: 0, ip: undefined });
    return said;
  }

  /** SYNC or PSYNC: the snapshot (after `head`, PSYNC's +FULLRESYNC), then the connection is a replica. */
  sync(connection: Connection, head: string): Raw {
    // The stream's id and offset go in the file as Redis writes them (a replica may read them).
    const rdb = rdbFile(this.store, { aux: { 'repl-stream-db': 0, 'repl-id': this.replid, 'repl-offset': this.offset } });
    this.attach(connection);
    const said = this.announced.get(connection);
    if (said !== undefined) Object.assign(this.replicas.get(connection)!, said);
    return new Raw(Buffer.concat([Buffer.from(`${head}$${rdb.length}\r\n`, 'latin1'), rdb]));
  }

  /** INFO replication. */
  info(): string[] {
    const now = Date.now();
    const lines = ['role:master', `connected_slaves:${this.replicas.size}`];
    let i = 0;
    for (const r of this.replicas.values()) {
      const ip = r.ip ?? r.connection.remoteAddress ?? '';
      lines.push(`slave${i++}:ip=${ip},port=${r.port},state=online,offset=${r.acked},lag=${Math.floor((now - r.ackedAt) / 1000)}`);
    }
    return [...lines, 'master_failover_state:no-failover', `master_replid:${this.replid}`, `master_replid2:${'0'.repeat(40)}`,
      `master_repl_offset:${this.offset}`, 'second_repl_offset:-1', 'repl_backlog_active:0', 'repl_backlog_size:1048576',
      'repl_backlog_first_byte_offset:0', 'repl_backlog_histlen:0'];
  }
}

/** Each store's replication. */
export const replicationOf = perStore((store) => new Replication(store));

/** SYNC and PSYNC: a full resynchronization always (kv keeps no backlog to continue from). */
function sync(ctx: Context, psync: boolean): Reply | typeof NO_REPLY {
  const connection = ctx.connection;
  if (connection === undefined) return error('ERR SYNC needs a connection');
  const replication = replicationOf(ctx.store);
  if (replication.has(connection)) return NO_REPLY; // already a replica: ignored, as Redis
  return replication.sync(connection, psync ? `+FULLRESYNC ${replication.replid} ${replication.offset}\r\n` : '');
}

export const REPLICATION: CommandTable = {
  sync: { arity: 1, run: (_a, ctx) => sync(ctx, false) },
  psync: { arity: -3, run: (_a, ctx) => sync(ctx, true) },
  replconf: {
    arity: -1,
    run: (a, ctx) => {
      // Options and values in pairs.
      if (a.length % 2 === 0) return SYNTAX;
      const replication = replicationOf(ctx.store);
      let reply: Reply | typeof NO_REPLY = OK;
      for (let i = 1; i < a.length && reply === OK; i += 2) reply = replication.replconf(ctx.connection, a[i]!, a[i + 1]!);
      return reply;
    },
  },
};
