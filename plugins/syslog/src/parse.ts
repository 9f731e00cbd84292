/**
 * Parsing one syslog message (RFC 5424, RFC 3164 and the variants rsyslog accepts) into a
 * structured message. Pure: no I/O, no state. It never throws, and its work is linear in the
 * input: a hand-written scan, no regular expression that could backtrack.
 */

/** A syslog message as parsed. Absent fields (NILVALUE `-`, or not in the message) are undefined. */
export interface SyslogMessage {
  /** 0..23 (1 is user, 16..23 local0..local7). */
  readonly facility: number;
  /** 0 (emerg) .. 7 (debug). */
  readonly severity: number;
  /** RFC 5424's VERSION; undefined for RFC 3164. */
  readonly version: number | undefined;
  readonly timestamp: Date | undefined;
  readonly hostname: string | undefined;
  /** RFC 5424's APP-NAME; RFC 3164's TAG. */
  readonly appName: string | undefined;
  /** RFC 5424's PROCID; RFC 3164's `[PID]`. */
  readonly procId: string | undefined;
  readonly msgId: string | undefined;
  /** SD-ID to its params (RFC 5424); empty when none. A repeated param keeps its last value. */
  readonly structuredData: Record<string, Record<string, string>>;
  /** MSG, without a leading BOM; '' when absent. */
  readonly message: string;
  readonly format: '5424' | '3164';
  /** The whole message as received, decoded as UTF-8. */
  readonly raw: string;
  /** Why the message is not well formed, when it is not: what could be parsed is kept. */
  readonly malformed?: string[];
}

/** Without a PRI, as rsyslog does: facility user, severity notice. */
const DEFAULT_FACILITY = 1;
const DEFAULT_SEVERITY = 5;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Parse one message (its framing already removed). */
export function parseSyslog(bytes: Uint8Array): SyslogMessage {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return new Parser(raw).parse();
}

class Parser {
  private i = 0;
  private readonly malformed: string[] = [];
  private facility = DEFAULT_FACILITY;
  private severity = DEFAULT_SEVERITY;
  /** Just after `<PRI>`. */
  private priEnd = 0;

  constructor(private readonly s: string) {}

  parse(): SyslogMessage {
    if (!this.pri()) return this.finish({ format: '3164', message: this.s });
    // "<PRI>1 " (a version, then a space) is RFC 5424; anything else, RFC 3164.
    const v = this.digits(2);
    if (v !== undefined && v > 0 && this.s[this.i] === ' ') {
      this.i++;
      return this.rfc5424(v);
    }
    this.i = this.priEnd;
    return this.rfc3164();
  }

  /** `<0..191>`; false (with the default priority and a reason) when absent or bad. */
  private pri(): boolean {
    const s = this.s;
    if (s[0] !== '<') return this.flag('no PRI');
    this.i = 1;
    const start = this.i;
    const pri = this.digits(3);
    if (pri === undefined || s[this.i] !== '>' || pri > 191 || (s[start] === '0' && this.i - start > 1)) {
      this.i = 0;
      return this.flag('bad PRI');
    }
    this.i++;
    this.priEnd = this.i;
    this.facility = pri >> 3;
    this.severity = pri & 7;
    return true;
  }

  private rfc5424(version: number): SyslogMessage {
    const timestamp = this.token();
    let date: Date | undefined;
    if (timestamp !== undefined) {
      date = isoDate(timestamp, true);
      if (date === undefined) this.flag('bad TIMESTAMP');
    }
    const hostname = this.field('HOSTNAME', 255);
    const appName = this.field('APP-NAME', 48);
    const procId = this.field('PROCID', 128);
    const msgId = this.field('MSGID', 32);
    const structuredData = Object.create(null) as Record<string, Record<string, string>>;
    let message = '';
    const sdStart = this.i;
    if (this.i >= this.s.length) {
      this.flag('header cut short');
    } else if (this.s[this.i] !== '-' && !this.sdElements(structuredData)) {
      // Keep what was parsed of it; the message is the rest, from the first `[`.
      this.flag('bad STRUCTURED-DATA');
      message = this.s.slice(sdStart);
    } else {
      if (this.s[this.i] === '-') this.i++;
      if (this.i < this.s.length) {
        if (this.s[this.i] === ' ') this.i++;
        else this.flag('no space before MSG');
        message = this.s.slice(this.i);
        if (message.charCodeAt(0) === 0xfeff) message = message.slice(1);
      }
    }
    return this.finish({ format: '5424', version, timestamp: date, hostname, appName, procId, msgId, structuredData, message });
  }

  /** A header field: its token, undefined for `-` or when the header ended before it; flagged when longer than `max`. */
  private field(name: string, max: number): string | undefined {
    if (this.i > this.s.length) return undefined; // already cut short
    const value = this.token();
    if (value !== undefined && value.length > max) this.flag(`${name} longer than ${max}`);
    return value;
  }

  /**
   * The next space-delimited token (undefined for `-`), leaving `i` after its space. At the
   * end of the input `i` goes past it, so that every later field knows the header was cut.
   */
  private token(): string | undefined {
    const s = this.s;
    if (this.i >= s.length) {
      this.i = s.length + 1;
      return undefined;
    }
    let end = s.indexOf(' ', this.i);
    if (end === -1) end = s.length;
    const t = s.slice(this.i, end);
    this.i = end + 1;
    return t === '-' ? undefined : t;
  }

  /** One or more `[SD-ID param="value"...]`; false at the first thing that is not one. */
  private sdElements(out: Record<string, Record<string, string>>): boolean {
    const s = this.s;
    while (s[this.i] === '[') {
      this.i++;
      const id = this.sdName();
      if (id === undefined) return false;
      const params: Record<string, string> = out[id] ?? Object.create(null) as Record<string, string>;
      out[id] = params;
      while (s[this.i] === ' ') {
        this.i++;
        const name = this.sdName();
        if (name === undefined || s[this.i] !== '=' || s[this.i + 1] !== '"') return false;
        this.i += 2;
        const value = this.sdValue();
        if (value === undefined) return false;
        params[name] = value;
      }
      if (s[this.i] !== ']') return false;
      this.i++;
    }
    return true;
  }

  /** SD-NAME: printable ASCII but `=`, space, `]` and `"`, 1 to 32 of them. */
  private sdName(): string | undefined {
    const s = this.s;
    const start = this.i;
    for (; this.i < s.length; this.i++) {
      const c = s.charCodeAt(this.i);
      if (c <= 32 || c >= 127 || c === 61 || c === 93 || c === 34) break;
    }
    const n = this.i - start;
    return n > 0 && n <= 32 ? s.slice(start, this.i) : undefined;
  }

  /** A PARAM-VALUE after its opening `"`, unescaping `\"`, `\\` and `\]`; leaves `i` after the closing `"`. */
  private sdValue(): string | undefined {
    const s = this.s;
    let value = '';
    let from = this.i;
    for (; this.i < s.length; this.i++) {
      const c = s[this.i];
      if (c === '"') {
        value += s.slice(from, this.i++);
        return value;
      }
      if (c === '\\') {
        const e = s[this.i + 1];
        // Only these three are escapes; any other backslash is kept as it is (RFC 5424 §6.3.3).
        if (e === '"' || e === '\\' || e === ']') {
          value += s.slice(from, this.i);
          from = ++this.i;
        }
      }
    }
    return undefined;
  }

  /** `Mmm dd hh:mm:ss` or an ISO timestamp, then an optional hostname, then `TAG[PID]: `. */
  private rfc3164(): SyslogMessage {
    const s = this.s;
    let timestamp = this.bsdDate();
    if (timestamp === undefined && isDigit(s.charCodeAt(this.i))) {
      let end = s.indexOf(' ', this.i);
      if (end === -1) end = s.length;
      timestamp = isoDate(s.slice(this.i, end), false);
      if (timestamp !== undefined) this.i = Math.min(end + 1, s.length);
    }
    if (timestamp === undefined) this.flag('no TIMESTAMP');
    // A hostname only follows a timestamp, and is a word of hostname characters then a space
    // (so a `TAG:` or `TAG[PID]` where the hostname would be is the tag: no hostname).
    let hostname: string | undefined;
    if (timestamp !== undefined) {
      const end = this.hostnameEnd();
      if (end !== undefined) {
        hostname = s.slice(this.i, end);
        this.i = end + 1;
      }
    }
    const { appName, procId } = this.tag();
    return this.finish({ format: '3164', timestamp, hostname, appName, procId, message: s.slice(this.i) });
  }

  /** `Mmm dd hh:mm:ss ` (day space- or zero-padded): the date, with `i` after the space. */
  private bsdDate(): Date | undefined {
    const s = this.s;
    const i = this.i;
    const month = MONTHS.indexOf(s.slice(i, i + 3));
    if (month === -1 || s[i + 3] !== ' ' || (s[i + 15] !== ' ' && i + 15 !== s.length)) return undefined;
    const day = num(s, i + 4, 2, true);
    const h = num(s, i + 7, 2, false);
    const m = num(s, i + 10, 2, false);
    const sec = num(s, i + 13, 2, false);
    if (day === undefined || h === undefined || m === undefined || sec === undefined || s[i + 9] !== ':' || s[i + 12] !== ':') return undefined;
    if (day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return undefined;
    this.i = Math.min(i + 16, s.length);
    // No year: this one, unless that puts it more than a day ahead (a December message read in January).
    const now = new Date();
    let date = new Date(now.getFullYear(), month, day, h, m, sec);
    if (date.getTime() - now.getTime() > 86_400_000) date = new Date(now.getFullYear() - 1, month, day, h, m, sec);
    return date;
  }

  /** Where the hostname at `i` ends (its space), or undefined when the word there is not one. */
  private hostnameEnd(): number | undefined {
    const s = this.s;
    const limit = Math.min(s.length, this.i + 256);
    for (let j = this.i; j < limit; j++) {
      const c = s.charCodeAt(j);
      if (c === 32) return j > this.i && s[j - 1] !== ':' ? j : undefined;
      // Letters, digits, `.`, `-`, `_` and `:` (an IPv6 address).
      if (!(isDigit(c) || (c | 32) >= 97 && (c | 32) <= 122 || c === 46 || c === 45 || c === 95 || c === 58)) return undefined;
    }
    return undefined;
  }

  /**
   * `TAG: `, `TAG[PID]: ` or `TAG[PID] `: up to 48 characters of tag. Text that does not
   * look like a tag is left for the message (no tag) rather than guessed at.
   */
  private tag(): { appName?: string; procId?: string } {
    const s = this.s;
    const start = this.i;
    const limit = Math.min(s.length, start + 49);
    let j = start;
    for (; j < limit; j++) {
      const c = s.charCodeAt(j);
      if (c === 58 /* : */ || c === 91 /* [ */ || c <= 32) break;
    }
    if (j === start || j === limit && j < s.length) return {};
    const appName = s.slice(start, j);
    let procId: string | undefined;
    if (s[j] === '[') {
      const close = s.indexOf(']', j);
      if (close === -1 || close - j > 129) return {};
      procId = s.slice(j + 1, close);
      j = close + 1;
      if (s[j] === ':') j++;
    } else if (s[j] === ':') {
      j++;
    } else {
      return {};
    }
    if (s[j] === ' ') j++;
    this.i = j;
    return { appName, procId };
  }

  private flag(reason: string): false {
    this.malformed.push(reason);
    return false;
  }

  /** Up to `max` digits at `i` as a number, moving `i` past them; undefined when none. */
  private digits(max: number): number | undefined {
    const s = this.s;
    const start = this.i;
    let n = 0;
    while (this.i - start < max && isDigit(s.charCodeAt(this.i))) n = n * 10 + s.charCodeAt(this.i++) - 48;
    return this.i > start ? n : undefined;
  }

  private finish(m: Partial<SyslogMessage> & Pick<SyslogMessage, 'format' | 'message'>): SyslogMessage {
    return {
      facility: this.facility,
      severity: this.severity,
      version: m.version,
      timestamp: m.timestamp,
      hostname: m.hostname,
      appName: m.appName,
      procId: m.procId,
      msgId: m.msgId,
      structuredData: m.structuredData ?? Object.create(null) as Record<string, Record<string, string>>,
      message: m.message,
      format: m.format,
      raw: this.s,
      ...(this.malformed.length > 0 ? { malformed: this.malformed } : {}),
    };
  }
}

/**
 * An RFC 3339 timestamp as RFC 5424 restricts it: `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`.
 * `needZone` false (RFC 3164's ISO variant) also takes one without a zone, as local time.
 */
function isoDate(t: string, needZone: boolean): Date | undefined {
  if (t.length < 19 || t.length > 40) return undefined;
  const y = num(t, 0, 4, false);
  const mo = num(t, 5, 2, false);
  const d = num(t, 8, 2, false);
  const h = num(t, 11, 2, false);
  const mi = num(t, 14, 2, false);
  const sec = num(t, 17, 2, false);
  if (y === undefined || mo === undefined || d === undefined || h === undefined || mi === undefined || sec === undefined) return undefined;
  if (t[4] !== '-' || t[7] !== '-' || (t[10] !== 'T' && t[10] !== 't') || t[13] !== ':' || t[16] !== ':') return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return undefined;
  let i = 19;
  if (t[i] === '.') {
    const start = ++i;
    while (isDigit(t.charCodeAt(i))) i++;
    if (i === start || i - start > 6) return undefined;
  }
  const zone = t.slice(i);
  if (zone === '' ? needZone : !(zone === 'Z' || zone === 'z' || isOffset(zone))) return undefined;
  const date = new Date(zone === '' ? t : t.toUpperCase());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function isOffset(z: string): boolean {
  const h = num(z, 1, 2, false);
  const m = num(z, 4, 2, false);
  return z.length === 6 && (z[0] === '+' || z[0] === '-') && z[3] === ':' && h !== undefined && h <= 23 && m !== undefined && m <= 59;
}

/** Exactly `n` digits at `at` (a leading space allowed when `padded`), as a number. */
function num(s: string, at: number, n: number, padded: boolean): number | undefined {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(at + k);
    if (padded && k === 0 && c === 32) continue;
    if (!isDigit(c)) return undefined;
    v = v * 10 + c - 48;
  }
  return v;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
