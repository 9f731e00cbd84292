/** This process's syslog figures, shown in its `info` entry. */
export interface SyslogCounts {
  /** Messages decoded. */
  messages: number;
  /** Of those, the ones flagged malformed (kept, parsed as far as they go). */
  malformed: number;
  /** Messages the default handler did not write: stdout held too much not yet written. */
  dropped: number;
}

export function newCounts(): SyslogCounts {
  return { messages: 0, malformed: 0, dropped: 0 };
}
