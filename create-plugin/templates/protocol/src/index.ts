import { definePlugin, ProtocolError, type Protocol } from '@socketserver/core';

/** Bytes before each message: its length, a 32-bit big-endian unsigned integer. */
const HEADER = 4;

/**
 * The {{name}} protocol: each message is a 4-byte big-endian length, then that many bytes.
 * One instance per connection, so it may keep state between reads (see README.md).
 */
export class {{Pascal}}Protocol implements Protocol<Buffer, Buffer | string> {
  /** Bytes the next message needs once its header is read: until then reads are appended, not decoded. */
  expected = 0;

  constructor(private readonly maxFrame: number) {}

  decode(data: Buffer): [Buffer | undefined, Buffer] {
    if (data.length < HEADER) return [undefined, data];
    const size = data.readUInt32BE(0);
    // Checked before waiting for the body: a client must not make the server hold more than the limit.
    if (size > this.maxFrame) throw new ProtocolError(`{{name}}: a frame of ${size} bytes is over --{{name}}-max-frame (${this.maxFrame})`);
    if (data.length < HEADER + size) {
      this.expected = HEADER + size;
      return [undefined, data];
    }
    this.expected = 0;
    return [data.subarray(HEADER, HEADER + size), data.subarray(HEADER + size)];
  }

  encode(message: Buffer | string): Buffer {
    const body = Buffer.from(message);
    const out = Buffer.allocUnsafe(HEADER + body.length);
    out.writeUInt32BE(body.length, 0);
    body.copy(out, HEADER);
    return out;
  }
}

export default definePlugin({
  name: '{{name}}',
  settings: {
    // `--{{name}}-max-frame` on the command line, SS_{{CONSTANT}}_MAX_FRAME in the environment,
    // {{camel}}MaxFrame in a config file (['{{name}}', { {{camel}}MaxFrame: '1mb' }]).
    {{camel}}MaxFrame: {
      flags: ['--{{name}}-max-frame'], type: 'bytes', default: '64kb', section: '{{name}}',
      desc: 'Largest {{name}} frame accepted; a client sending a longer one is disconnected.',
    },
  },
  protocol: (cfg) => new {{Pascal}}Protocol(cfg.{{camel}}MaxFrame),
});
