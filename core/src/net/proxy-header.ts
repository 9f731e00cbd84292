import { isIPv6 } from 'node:net';

/**
 * The PROXY protocol header (HAProxy's doc/proxy-protocol.txt), versions 1 and 2, parsed
 * incrementally: feed it each read as it comes; it says it needs more, or gives the
 * header and the bytes after it, or why the input is not a header. Pure: no sockets.
 */

export type ProxyMode = 'v1' | 'v2' | 'auto';

/** One end of the proxied connection: an IP address and port, or (AF_UNIX) a path and no port. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number | undefined;
}

/** The TLVs of a v2 header that are told on; the others are skipped. */
export interface ProxyTlvs {
  alpn?: string;
  authority?: string;
  /** Opaque, up to 128 bytes. */
  uniqueId?: Buffer;
  ssl?: { client: number; verified: boolean; version?: string; cn?: string; cipher?: string };
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** local: the proxy's own connection (a health check); proxy: relayed for a client. */
  readonly command: 'local' | 'proxy';
  /**
   * The client and the address it reached, or undefined when the real connection's
   * endpoints stand (LOCAL, v1 UNKNOWN, v2 UNSPEC).
   */
  readonly source: ProxyEndpoint | undefined;
  readonly destination: ProxyEndpoint | undefined;
  readonly tlvs: ProxyTlvs;
}

export type ProxyParse =
  | { readonly kind: 'more' }
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly reason: string };

/** The longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const V1_MAX = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
const CR = 0x0d;
const LF = 0x0a;

const TLV_ALPN = 0x01;
const TLV_AUTHORITY = 0x02;
const TLV_CRC32C = 0x03;
const TLV_UNIQUE_ID = 0x05;
const TLV_SSL = 0x20;
const SSL_VERSION = 0x21;
const SSL_CN = 0x22;
const SSL_CIPHER = 0x23;

const MORE: ProxyParse = { kind: 'more' };

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; // Castagnoli, reflected
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli, RFC 4960 appendix B) of `data`. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function error(reason: string): ProxyParse {
  return { kind: 'error', reason };
}

/**
 * Feed it reads until it answers other than `more`. It keeps what it was given (at most
 * the header's length plus one read) and never looks at a byte twice for the signature or
 * the v1 line end, so a header trickling in byte by byte costs no more than one read.
 */
export class ProxyHeaderParser {
  private buf: Buffer = Buffer.alloc(0);
  private len = 0;
  /** Bytes at the start already matched against the v1 prefix or v2 signature. */
  private matched = 0;
  /** v1: bytes already searched for the CRLF. */
  private scanned = 0;
  /** `buf` is the caller's first chunk (not ours to write into). */
  private shared = false;
  private version: 1 | 2 | undefined;
  private done = false;

  constructor(private readonly mode: ProxyMode) {
    if (mode === 'v1') this.version = 1;
    else if (mode === 'v2') this.version = 2;
  }

  feed(chunk: Buffer): ProxyParse {
    if (this.done) throw new Error('ProxyHeaderParser: already answered');
    if (chunk.length === 0) return MORE; // nothing to look at (the first byte decides the version)
    this.append(chunk);
    const result = this.step();
    if (result.kind !== 'more') this.done = true;
    return result;
  }

  private append(chunk: Buffer): void {
    if (this.len === 0) {
      this.buf = chunk; // the usual case: the whole header in the first read, not copied
      this.len = chunk.length;
      this.shared = true;
      return;
    }
    if (this.shared || this.len + chunk.length > this.buf.length) {
      // Grow by doubling: a header arriving byte by byte is copied O(n) times in all, not O(n²).
      const grown = Buffer.allocUnsafe(Math.max(this.len + chunk.length, this.buf.length * 2, 64));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
      this.shared = false;
    }
    chunk.copy(this.buf, this.len);
    this.len += chunk.length;
  }

  private step(): ProxyParse {
    if (this.version === undefined) {
      // auto: the first byte tells (the v1 prefix and the v2 signature differ at once).
      const first = this.buf[0]!;
      if (first === V1_PREFIX[0]) this.version = 1;
      else if (first === V2_SIGNATURE[0]) this.version = 2;
      else return error('no PROXY protocol header (neither v1 nor v2)');
    }
    return this.version === 1 ? this.stepV1() : this.stepV2();
  }

  /** Match the start of the buffer against `sig`, from where the last read stopped. */
  private match(sig: Buffer): boolean | undefined {
    const end = Math.min(this.len, sig.length);
    for (let i = this.matched; i < end; i++) if (this.buf[i] !== sig[i]) return false;
    this.matched = end;
    return end === sig.length ? true : undefined;
  }

  private stepV1(): ProxyParse {
    const prefix = this.match(V1_PREFIX);
    if (prefix === false) return error(this.mode === 'v1' ? 'no PROXY v1 header' : 'bad PROXY v1 header start');
    if (prefix === undefined) return MORE;
    const buf = this.buf;
    const end = Math.min(this.len, V1_MAX);
    for (let i = this.scanned; i < end; i++) {
      const b = buf[i]!;
      if (b === LF) return error('PROXY v1 line ends in LF without CR');
      if (b === CR) {
        if (i + 2 > V1_MAX) break; // the LF would be past the longest line
        if (i + 1 >= this.len) {
          this.scanned = i; // look at the CR again once the next byte is in
          return MORE;
        }
        if (buf[i + 1] !== LF) return error('PROXY v1 line has a CR without LF');
        return this.v1Line(buf.toString('latin1', 0, i), i + 2);
      }
      if (b < 0x20 || b > 0x7e) return error('PROXY v1 line has a byte that is not printable US-ASCII');
    }
    this.scanned = Math.min(end, V1_MAX - 1);
    if (end >= V1_MAX) return error(`PROXY v1 line has no CRLF within ${V1_MAX} bytes`);
    return MORE;
  }

  private v1Line(line: string, length: number): ProxyParse {
    const parts = line.split(' ');
    const proto = parts[1];
    const rest = this.rest(length);
    if (proto === 'UNKNOWN') {
      // The receiver ignores whatever follows UNKNOWN and keeps the real endpoints.
      return { kind: 'header', header: { version: 1, command: 'proxy', source: undefined, destination: undefined, tlvs: {} }, rest };
    }
    if (proto !== 'TCP4' && proto !== 'TCP6') return error(`PROXY v1 protocol ${JSON.stringify(proto ?? '')} is not TCP4, TCP6 or UNKNOWN`);
    if (parts.length !== 6) return error('PROXY v1 line needs exactly: PROXY TCP4|TCP6 SRC DST SPORT DPORT, single spaces');
    const valid = proto === 'TCP4' ? isCanonicalIPv4 : isHexIPv6;
    const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
    if (!valid(src)) return error(`PROXY v1 source ${JSON.stringify(src)} is not an ${proto === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
    if (!valid(dst)) return error(`PROXY v1 destination ${JSON.stringify(dst)} is not an ${proto === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
    const sp = port(sport);
    const dp = port(dport);
    if (sp === undefined) return error(`PROXY v1 source port ${JSON.stringify(sport)} is not 0..65535 without leading zeroes`);
    if (dp === undefined) return error(`PROXY v1 destination port ${JSON.stringify(dport)} is not 0..65535 without leading zeroes`);
    const header: ProxyHeader = {
      version: 1, command: 'proxy', tlvs: {},
      source: { address: src.toLowerCase(), port: sp }, destination: { address: dst.toLowerCase(), port: dp },
    };
    return { kind: 'header', header, rest };
  }

  private stepV2(): ProxyParse {
    const sig = this.match(V2_SIGNATURE);
    if (sig === false) return error(this.mode === 'v2' ? 'no PROXY v2 header (bad signature)' : 'bad PROXY v2 signature');
    if (sig === undefined || this.len < V2_FIXED) return MORE;
    const buf = this.buf;
    const verCmd = buf[12]!;
    if (verCmd >> 4 !== 2) return error(`PROXY v2 header has version ${verCmd >> 4}, not 2`);
    const cmd = verCmd & 0x0f;
    if (cmd > 1) return error(`PROXY v2 command ${cmd} is neither LOCAL (0) nor PROXY (1)`);
    const famProto = buf[13]!;
    const family = famProto >> 4;
    const transport = famProto & 0x0f;
    if (family > 3) return error(`PROXY v2 address family ${family} is not UNSPEC, INET, INET6 or UNIX`);
    if (transport > 2) return error(`PROXY v2 transport ${transport} is not UNSPEC, STREAM or DGRAM`);
    const total = V2_FIXED + buf.readUInt16BE(14);
    if (this.len < total) return MORE;
    const rest = this.rest(total);
    if (cmd === 0) {
      // LOCAL: the proxy's own connection; the block (family, addresses, TLVs) is discarded.
      return { kind: 'header', header: { version: 2, command: 'local', source: undefined, destination: undefined, tlvs: {} }, rest };
    }
    const header = buf.subarray(0, total);
    let source: ProxyEndpoint | undefined;
    let destination: ProxyEndpoint | undefined;
    let at = V2_FIXED;
    if (family !== 0 && transport !== 0) {
      const size = family === 1 ? 12 : family === 2 ? 36 : 216;
      if (total - V2_FIXED < size) return error(`PROXY v2 address block is ${total - V2_FIXED} bytes, less than the ${size} of its family`);
      if (family === 3) {
        source = { address: unixPath(header, at), port: undefined };
        destination = { address: unixPath(header, at + 108), port: undefined };
      } else {
        const n = family === 1 ? 4 : 16;
        source = { address: ip(header, at, n), port: header.readUInt16BE(at + 2 * n) };
        destination = { address: ip(header, at + n, n), port: header.readUInt16BE(at + 2 * n + 2) };
      }
      at += size;
    } else {
      // UNSPEC: the real endpoints stand; the address length still says where TLVs would
      // start, and with no known block there is nothing to skip to: TLVs are ignored.
      at = total;
    }
    const tlvs: ProxyTlvs = {};
    const problem = readTlvs(header, at, tlvs);
    if (problem !== undefined) return error(problem);
    return { kind: 'header', header: { version: 2, command: 'proxy', source, destination, tlvs }, rest };
  }

  /** The bytes after the header: the first application data. */
  private rest(length: number): Buffer {
    return length >= this.len ? Buffer.alloc(0) : this.buf.subarray(length, this.len);
  }
}

/** Walk the TLVs of `header` from `at`: CRC32C checked, the known ones kept. Returns the problem, if any. */
function readTlvs(header: Buffer, at: number, tlvs: ProxyTlvs): string | undefined {
  const end = header.length;
  while (at < end) {
    if (end - at < 3) return 'PROXY v2 TLV is truncated (fewer than 3 bytes left)';
    const type = header[at]!;
    const length = header.readUInt16BE(at + 1);
    const start = at + 3;
    if (start + length > end) return `PROXY v2 TLV 0x${type.toString(16)} is longer (${length}) than the header has left`;
    const value = header.subarray(start, start + length);
    switch (type) {
      case TLV_ALPN: tlvs.alpn = value.toString('latin1'); break;
      case TLV_AUTHORITY: tlvs.authority = value.toString('utf8'); break;
      case TLV_UNIQUE_ID:
        if (length > 128) return `PROXY v2 UNIQUE_ID is ${length} bytes, more than 128`;
        tlvs.uniqueId = Buffer.from(value);
        break;
      case TLV_CRC32C: {
        if (length !== 4) return `PROXY v2 CRC32C TLV is ${length} bytes, not 4`;
        const given = value.readUInt32BE(0);
        // The sum is over the whole header with its own field zeroed; a copy keeps the input intact.
        const copy = Buffer.from(header);
        copy.fill(0, start, start + 4);
        if (crc32c(copy) !== given) return 'PROXY v2 CRC32C does not match the header';
        break;
      }
      case TLV_SSL: {
        const problem = readSsl(value, tlvs);
        if (problem !== undefined) return problem;
        break;
      }
      default: break; // NOOP, NETNS, custom and unknown types: skipped
    }
    at = start + length;
  }
  return undefined;
}

function readSsl(value: Buffer, tlvs: ProxyTlvs): string | undefined {
  if (value.length < 5) return `PROXY v2 SSL TLV is ${value.length} bytes, less than 5`;
  const ssl: NonNullable<ProxyTlvs['ssl']> = { client: value[0]!, verified: value.readUInt32BE(1) === 0 };
  let at = 5;
  while (at < value.length) {
    if (value.length - at < 3) return 'PROXY v2 SSL sub-TLV is truncated';
    const type = value[at]!;
    const length = value.readUInt16BE(at + 1);
    const start = at + 3;
    if (start + length > value.length) return `PROXY v2 SSL sub-TLV 0x${type.toString(16)} is longer than the SSL TLV`;
    const text = () => value.toString('utf8', start, start + length);
    if (type === SSL_VERSION) ssl.version = text();
    else if (type === SSL_CN) ssl.cn = text();
    else if (type === SSL_CIPHER) ssl.cipher = text();
    at = start + length;
  }
  tlvs.ssl = ssl;
  return undefined;
}

/** Dotted decimal, each part 0..255 without leading zeroes (no octal look-alikes). */
function isCanonicalIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Hex groups with at most one `::`; no embedded IPv4 and no zone (the spec's form). */
function isHexIPv6(s: string): boolean {
  return /^[0-9a-fA-F:]+$/.test(s) && isIPv6(s);
}

function port(s: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function ip(buf: Buffer, at: number, n: number): string {
  if (n === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i).toString(16));
  return compressIPv6(groups);
}

/** RFC 5952 text: the longest run of two or more zero groups (the first, on a tie) becomes `::`. */
function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** A 108-byte sun_path: up to its first NUL. */
function unixPath(buf: Buffer, at: number): string {
  const field = buf.subarray(at, at + 108);
  const nul = field.indexOf(0);
  return field.toString('utf8', 0, nul === -1 ? 108 : nul);
}
