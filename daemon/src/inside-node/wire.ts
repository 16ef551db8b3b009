// The runtime link's codec as the warm Node process sees it. Deliberately
// not msgpackr: loading msgpackr costs ~14 ms in every warm process, this
// costs nothing, and it only needs the few msgpack forms the spec allows.
// It is checked against protocol-spec/vectors.txt like every other codec.

import type { Framing } from "../protocol/frame-reader";

export type WireValue = null | boolean | number | string | Buffer | WireValue[] | { [key: string]: WireValue };
export type WireMessage = { [key: string]: WireValue };

const MAX_DEPTH = 8;

export class WireError extends Error {
  constructor(readonly code: string, why: string) {
    super(why);
  }
}

export function decodeValue(buf: Buffer): { [key: string]: WireValue } {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new WireError("truncated", "message ends inside a value");
  };
  const bytes = (n: number) => {
    need(n);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const uint = (n: 1 | 2 | 4) => {
    need(n);
    const v = n === 1 ? buf[pos] : n === 2 ? buf.readUInt16BE(pos) : buf.readUInt32BE(pos);
    pos += n;
    return v;
  };
  const read = (depth: number, isKey: boolean): WireValue => {
    if (depth > MAX_DEPTH) throw new WireError("too-deep", "nesting too deep");
    const b = uint(1);
    const str = (n: number) => bytes(n).toString("utf8");
    const notKey = <T>(v: T): T => {
      if (isKey) throw new WireError("bad-type", "map keys must be str");
      return v;
    };
    const arr = (n: number) => {
      notKey(0);
      const out: WireValue[] = [];
      for (let i = 0; i < n; i++) out.push(read(depth + 1, false));
      return out;
    };
    const map = (n: number) => {
      notKey(0);
      const out: { [key: string]: WireValue } = {};
      for (let i = 0; i < n; i++) {
        const k = read(depth + 1, true) as string;
        out[k] = read(depth + 1, false);
      }
      return out;
    };
    if (b <= 0x7f) return notKey(b);
    if (b >= 0xe0) return notKey(b - 0x100);
    if (b <= 0x8f) return map(b & 0x0f);
    if (b <= 0x9f) return arr(b & 0x0f);
    if (b <= 0xbf) return str(b & 0x1f);
    let big: bigint;
    switch (b) {
      case 0xc0: return notKey(null);
      case 0xc2: return notKey(false);
      case 0xc3: return notKey(true);
      case 0xc4: return notKey(Buffer.from(bytes(uint(1))));
      case 0xc5: return notKey(Buffer.from(bytes(uint(2))));
      case 0xc6: return notKey(Buffer.from(bytes(uint(4))));
      case 0xcc: return notKey(uint(1));
      case 0xcd: return notKey(uint(2));
      case 0xce: return notKey(uint(4));
      case 0xd0: return notKey(bytes(1).readInt8(0));
      case 0xd1: return notKey(bytes(2).readInt16BE(0));
      case 0xd2: return notKey(bytes(4).readInt32BE(0));
      case 0xcf: big = bytes(8).readBigUInt64BE(0); break;
      case 0xd3: big = bytes(8).readBigInt64BE(0); break;
      case 0xd9: return str(uint(1));
      case 0xda: return str(uint(2));
      case 0xdb: return str(uint(4));
      case 0xdc: return arr(uint(2));
      case 0xdd: return arr(uint(4));
      case 0xde: return map(uint(2));
      case 0xdf: return map(uint(4));
      default:
        throw new WireError("bad-type", `msgpack type 0x${b.toString(16)} is not allowed`);
    }
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER))
      throw new WireError("bad-type", "integer beyond 53 bits");
    return notKey(Number(big));
  };
  const value = read(1, false);
  if (pos !== buf.length) throw new WireError("trailing-bytes", "bytes left after the message");
  if (value === null || typeof value !== "object" || Array.isArray(value) || Buffer.isBuffer(value))
    throw new WireError("not-a-map", "a message must be a msgpack map");
  return value;
}

/**
 * Where a frame is encoded: one buffer that grows, written to in place. Bytes
 * went one by one into a number array before: a run's `loaded` report (~250
 * module paths, 16 KiB) then took 5-8 ms of CPU in a learning run, where this
 * code is still cold, on the caller's time.
 */
class Out {
  buf = Buffer.allocUnsafe(256);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  push(...bytes: number[]): void {
    this.room(bytes.length);
    for (const b of bytes) this.buf[this.pos++] = b;
  }

  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  utf8(s: string, length: number): void {
    this.room(length);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }
}

function head(out: Out, small: number, smallMax: number, codes: number[], n: number): void {
  if (n <= smallMax) out.push(small | n);
  else if (codes[0] && n < 0x100) out.push(codes[0], n);
  else if (n < 0x10000) out.push(codes[1], n >> 8, n & 0xff);
  else out.push(codes[2], (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function encodeInto(out: Out, v: WireValue): void {
  if (v === null) out.push(0xc0);
  else if (v === true) out.push(0xc3);
  else if (v === false) out.push(0xc2);
  else if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new WireError("bad-type", "only safe integers can be sent");
    if (v >= 0 && v < 0x80) out.push(v);
    else if (v < 0 && v >= -32) out.push(v + 0x100);
    else if (v >= 0 && v < 2 ** 32) head(out, 0, -1, [0xcc, 0xcd, 0xce], v);
    else if (v >= -(2 ** 31) && v < 0) {
      out.push(0xd2, (v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0xd3;
      b.writeBigInt64BE(BigInt(v), 1);
      out.bytes(b);
    }
  } else if (typeof v === "string") {
    const length = Buffer.byteLength(v, "utf8");
    head(out, 0xa0, 31, [0xd9, 0xda, 0xdb], length);
    out.utf8(v, length);
  } else if (Buffer.isBuffer(v)) {
    head(out, 0, -1, [0xc4, 0xc5, 0xc6], v.length);
    out.bytes(v);
  } else if (Array.isArray(v)) {
    head(out, 0x90, 15, [0, 0xdc, 0xdd], v.length);
    for (const item of v) encodeInto(out, item);
  } else {
    const keys = Object.keys(v);
    head(out, 0x80, 15, [0, 0xde, 0xdf], keys.length);
    for (const k of keys) {
      encodeInto(out, k);
      encodeInto(out, v[k]);
    }
  }
}

/** A whole frame: 4-byte big-endian length, then the msgpack map. */
export function encodeFrame(message: { [key: string]: WireValue }): Buffer {
  const out = new Out();
  out.push(0, 0, 0, 0);
  encodeInto(out, message);
  const frame = out.buf.subarray(0, out.pos);
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

/** The runtime link's frames as this process reads them (inside-node/link.ts, with protocol/frame-reader.ts): the daemon is trusted with lengths. */
export const WIRE: Framing<WireMessage> = { checkLength() {}, decode: decodeValue, encode: encodeFrame };
