// Reads protocol-spec/vectors.txt and renders decoded values in the spec's
// canonical notation, for the codec tests of every TypeScript codec.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Vector {
  kind: "vector" | "reject";
  name: string;
  frame: Buffer;
  expect: string; // the value rendering, or the error code
}

export const VECTORS_FILE = join(__dirname, "..", "..", "protocol-spec", "vectors.txt");

export function readVectors(): Vector[] {
  const out: Vector[] = [];
  let cur: { kind: "vector" | "reject"; name: string; hex: string; expect: string } | null = null;
  for (const line of readFileSync(VECTORS_FILE, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.indexOf(" ");
    const word = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? "" : line.slice(space + 1);
    if (word === "vector" || word === "reject") cur = { kind: word, name: rest, hex: "", expect: "" };
    else if (word === "frame" && cur) cur.hex += rest;
    else if ((word === "value" || word === "error") && cur) cur.expect = rest;
    else if (word === "end" && cur) {
      out.push({ kind: cur.kind, name: cur.name, frame: Buffer.from(cur.hex, "hex"), expect: cur.expect });
      cur = null;
    } else throw new Error(`vectors.txt: unexpected line: ${line}`);
  }
  return out;
}

function quote(bytes: Buffer): string {
  let s = "";
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += "\\\\";
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else s += "\\x" + b.toString(16).padStart(2, "0");
  }
  return `"${s}"`;
}

export function render(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return quote(Buffer.from(v, "utf8"));
  if (v instanceof Uint8Array) return "b" + quote(Buffer.from(v.buffer, v.byteOffset, v.length));
  if (Array.isArray(v)) return `[${v.map(render).join(", ")}]`;
  const entries = Object.entries(v as Record<string, unknown>);
  return `{${entries.map(([k, x]) => `${render(k)}: ${render(x)}`).join(", ")}}`;
}
