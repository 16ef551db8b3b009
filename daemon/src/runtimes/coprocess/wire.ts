// The coprocess protocol's frames (protocol-spec/coprocess.md): a 4-byte
// big-endian length, then one JSON object; bytes travel as base64. The
// daemon's reader for the coprocess link and for each run link.
export const MAX_FRAME = 16 * 1024 * 1024;

export type JsonMessage = Record<string, unknown>;

export class CoprocessWireError extends Error {}

export function encodeJsonFrame(message: JsonMessage): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Node's own decoder skips what it does not know). */
export function fromBase64(s: unknown, what: string): Buffer {
  if (typeof s !== "string" || !BASE64.test(s)) throw new CoprocessWireError(`${what} is not base64`);
  return Buffer.from(s, "base64");
}

/** Collects bytes and yields whole frames' objects. */
export class JsonFrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(data: Buffer): void {
    this.chunks.push(data);
    this.size += data.length;
  }

  /** The next whole frame's object, or null if none is complete yet; throws on a broken frame. */
  next(): JsonMessage | null {
    if (this.size < 4) return null;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    const buf = this.chunks[0];
    const n = buf.readUInt32BE(0);
    if (n < 1 || n > MAX_FRAME) throw new CoprocessWireError(`frame length ${n} is out of range`);
    if (buf.length < 4 + n) return null;
    const text = buf.toString("utf8", 4, 4 + n);
    this.chunks = buf.length > 4 + n ? [buf.subarray(4 + n)] : [];
    this.size = buf.length - 4 - n;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new CoprocessWireError(`frame is not JSON: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CoprocessWireError("frame is not a JSON object");
    return value as JsonMessage;
  }

  /** Bytes of a frame begun and not finished. */
  get buffered(): number {
    return this.size;
  }
}

export interface CoprocessRunFields {
  argv: Buffer[];
  env: Buffer[];
  cwd: Buffer;
  umask: number;
}

/** Reads a `run` message as a client library must (the vectors check this reader too). */
export function parseRunFields(m: JsonMessage): CoprocessRunFields {
  const list = (v: unknown, what: string) => {
    if (!Array.isArray(v)) throw new CoprocessWireError(`${what} is not an array`);
    return v.map((x, i) => fromBase64(x, `${what}[${i}]`));
  };
  if (typeof m.umask !== "number" || !Number.isInteger(m.umask)) throw new CoprocessWireError("umask is not an int");
  return { argv: list(m.argv, "argv"), env: list(m.env, "env"), cwd: fromBase64(m.cwd, "cwd"), umask: m.umask };
}

export function intField(m: JsonMessage, key: string): number | null {
  const v = m[key];
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}
