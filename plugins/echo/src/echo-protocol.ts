import type { Protocol } from '@socketserver/core';

const EMPTY = Buffer.alloc(0);

/** No framing: each read is one message, and a reply is written as it is (the seed's EchoProtocol). */
export class EchoProtocol implements Protocol<Buffer, Buffer | Uint8Array | string> {
  /** A client sends one request at a time: two sent together would be one message here. */
  readonly unframed = true;

  decode(data: Buffer): [Buffer | undefined, Buffer] {
    return data.length === 0 ? [undefined, data] : [data, EMPTY];
  }

  encode(message: Buffer | Uint8Array | string): Buffer | Uint8Array | string {
    return message;
  }
}
