// The coprocess protocol's frames (protocol-spec/coprocess.md): a 4-byte
// big-endian length, then one JSON object; bytes travel as base64.
import type { Framing } from "../../protocol/frame-reader";

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

/** The coprocess link's and run links' frames, read by the daemon's one frame reader (protocol/frame-reader.ts). */
export const JSON_FRAMES: Framing<JsonMessage> = {
  checkLength(n) {
    if (n < 1 || n > MAX_FRAME) throw new CoprocessWireError(`frame length ${n} is out of range`);
  },
  decode(payload) {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString("utf8"));
    } catch (error) {
      throw new CoprocessWireError(`frame is not JSON: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CoprocessWireError("frame is not a JSON object");
    return value as JsonMessage;
  },
  encode: encodeJsonFrame,
};

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
