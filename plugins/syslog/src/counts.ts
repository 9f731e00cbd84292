/** This process's syslog figures, shown in its `info` entry. */
export interface SyslogCounts {
  /** Messages decoded. */
  messages: number;
  /** Of those, the ones flagged malformed (kept, parsed as far as they go). */
  malformed: number;
}

export function newCounts(): SyslogCounts {
  return { messages: 0, malformed: 0 };
}
