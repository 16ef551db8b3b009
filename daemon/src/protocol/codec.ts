// Framing and value checks for protocol v1 (protocol-spec/README.md).
// msgpackr does the msgpack work; this file adds the length prefix, the
// limits and the type rules the spec sets on top of msgpack.
import { Packr } from "msgpackr";
import { FrameReader, type Framing } from "./frame-reader";

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME = 16 * 1024 * 1024;
export const MAX_DEPTH = 8;

export type Value = null | boolean | number | string | Uint8Array | Value[] | { [key: string]: Value };
export type Message = { [key: string]: Value };

export class ProtocolError extends Error {
  constructor(readonly code: string, why: string) {
    super(why);
  }
}

// useRecords:false keeps plain msgpack maps that any peer can read;
// mapsAsObjects gives plain objects; int64AsType "bigint" lets us reject
// out-of-range integers instead of silently rounding them.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: "bigint", moreTypes: false });

export function encodeFrame(message: Message): Buffer {
  const payload = packr.pack(bigIntegers(message));
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/**
 * msgpackr writes an integer beyond 32 bits as a float64, which the spec
 * rejects; as a BigInt it is written as int64. Returns `v` itself when it
 * holds no such integer (the usual case: no copy).
 */
function bigIntegers<T>(v: T): T {
  if (typeof v === "number") return (Number.isInteger(v) && (v >= 2 ** 32 || v < -(2 ** 31)) ? BigInt(v) : v) as T;
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const x = bigIntegers(v[i]);
      if (x !== v[i]) (out ??= [...v])[i] = x;
    }
    return (out ?? v) as T;
  }
  if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
    let out: Record<string, unknown> | null = null;
    for (const [k, x] of Object.entries(v)) {
      const y = bigIntegers(x);
      if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
    }
    return (out ?? v) as T;
  }
  return v;
}

/** Decodes one payload (no length prefix) and checks it against the spec's rules. */
export function decodePayload(payload: Uint8Array): Message {
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  // msgpackr would decode ext, float and reserved bytes happily; the spec
  // rejects them, so the headers are walked first (cheap, no allocation).
  scanForbidden(buf);
  let value: unknown;
  try {
    value = packr.unpack(buf);
  } catch (error) {
    throw new ProtocolError("bad-type", error instanceof Error ? error.message : String(error));
  }
  if (!isPlainObject(value)) throw new ProtocolError("not-a-map", "a message must be a msgpack map");
  return normalize(value) as Message;
}

/** Walks the msgpack structure by its headers only, rejecting forbidden types before decoding. */
function scanForbidden(buf: Buffer): void {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new ProtocolError("truncated", "message ends inside a value");
  };
  const skip = (n: number) => {
    need(n);
    pos += n;
  };
  // Depth is checked here too so a hostile deep nest never reaches the decoder.
  const walk = (depth: number, isKey: boolean): void => {
    if (depth > MAX_DEPTH) throw new ProtocolError("too-deep", `nesting deeper than ${MAX_DEPTH}`);
    need(1);
    const b = buf[pos++];
    const container = (count: number, pairs: boolean) => {
      if (isKey) throw new ProtocolError("bad-type", "map keys must be str");
      for (let i = 0; i < count; i++) {
        if (pairs) walk(depth + 1, true);
        walk(depth + 1, false);
      }
    };
    const str = (len: number) => skip(len);
    const notKey = (what: string) => {
      if (isKey) throw new ProtocolError("bad-type", `map keys must be str, got ${what}`);
    };
    if (b <= 0x7f || b >= 0xe0) return notKey("int");
    if (b >= 0x80 && b <= 0x8f) return container(b & 0x0f, true);
    if (b >= 0x90 && b <= 0x9f) return container(b & 0x0f, false);
    if (b >= 0xa0 && b <= 0xbf) return str(b & 0x1f);
    switch (b) {
      case 0xc0: case 0xc2: case 0xc3: return notKey("nil/bool");
      case 0xc4: notKey("bin"); need(1); return skip(buf[pos++]);
      case 0xc5: notKey("bin"); need(2); pos += 2; return skip(buf.readUInt16BE(pos - 2));
      case 0xc6: notKey("bin"); need(4); pos += 4; return skip(buf.readUInt32BE(pos - 4));
      case 0xcc: case 0xd0: notKey("int"); return skip(1);
      case 0xcd: case 0xd1: notKey("int"); return skip(2);
      case 0xce: case 0xd2: notKey("int"); return skip(4);
      case 0xcf: case 0xd3: {
        notKey("int");
        need(8);
        const v = b === 0xcf ? buf.readBigUInt64BE(pos) : buf.readBigInt64BE(pos);
        pos += 8;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
          throw new ProtocolError("bad-type", "integer beyond 53 bits");
        return;
      }
      case 0xd9: need(1); return str(buf[pos++]);
      case 0xda: need(2); pos += 2; return str(buf.readUInt16BE(pos - 2));
      case 0xdb: need(4); pos += 4; return str(buf.readUInt32BE(pos - 4));
      case 0xdc: need(2); pos += 2; return container(buf.readUInt16BE(pos - 2), false);
      case 0xdd: need(4); pos += 4; return container(buf.readUInt32BE(pos - 4), false);
      case 0xde: need(2); pos += 2; return container(buf.readUInt16BE(pos - 2), true);
      case 0xdf: need(4); pos += 4; return container(buf.readUInt32BE(pos - 4), true);
      default:
        throw new ProtocolError("bad-type", `msgpack type 0x${b.toString(16)} is not allowed`);
    }
  };
  walk(1, false);
  if (pos !== buf.length) throw new ProtocolError("trailing-bytes", "bytes left after the message");
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Turns bigint leaves (64-bit encodings of small numbers) into numbers. */
function normalize(v: unknown): Value {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (isPlainObject(v)) {
    const out: Message = {};
    for (const key of Object.keys(v)) out[key] = normalize(v[key]);
    return out;
  }
  return v as Value;
}

/** The client link's and the runtime links' frames: msgpack payloads checked against the spec. */
export const MSGPACK: Framing<Message> = {
  checkLength(length) {
    if (length === 0) throw new ProtocolError("frame-empty", "frame length 0");
    if (length > MAX_FRAME) throw new ProtocolError("frame-too-large", `frame of ${length} bytes is over the ${MAX_FRAME}-byte limit`);
  },
  decode: decodePayload,
  encode: encodeFrame,
};

/** Decodes a complete byte string holding exactly one frame (used by tests and vectors). */
export function decodeFrame(bytes: Buffer): Message {
  const reader = new FrameReader(MSGPACK);
  reader.push(bytes, []);
  const frame = reader.next();
  if (frame === null) throw new ProtocolError("truncated", "input ends inside a frame");
  if (reader.buffered !== 0) throw new ProtocolError("trailing-bytes", "bytes after the frame");
  return frame.message;
}
