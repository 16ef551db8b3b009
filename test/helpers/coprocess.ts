// Helpers for coprocess tests: the shared vectors, and a command run
// directly and through warm, compared byte for byte.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { same } from "./compare";
import { ROOT, type Result, WARM, type WarmEnv } from "./warm-env";

export const COPROCESS_VECTORS = join(ROOT, "protocol-spec", "coprocess-vectors.txt");
export const COPROCESS_DIR = join(ROOT, "coprocess");

export interface CoprocessVector {
  kind: "run" | "reject";
  name: string;
  frame: Buffer;
  /** The rendered fields (argv, env, cwd, umask lines) of a `run`. */
  want: string[];
}

export function readCoprocessVectors(): CoprocessVector[] {
  const out: CoprocessVector[] = [];
  let cur: { kind: "run" | "reject"; name: string; hex: string; want: string[] } | null = null;
  for (const line of readFileSync(COPROCESS_VECTORS, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [word, ...rest] = line.split(" ");
    if (word === "run" || word === "reject") cur = { kind: word, name: rest.join(" "), hex: "", want: [] };
    else if (word === "frame" && cur) cur.hex += rest.join("");
    else if (word === "end" && cur) {
      out.push({ kind: cur.kind, name: cur.name, frame: Buffer.from(cur.hex, "hex"), want: cur.want });
      cur = null;
    } else cur?.want.push(line);
  }
  return out;
}

export function renderBytes(b: Buffer): string {
  let s = ' b"';
  for (const c of b) s += c === 0x22 || c === 0x5c ? "\\" + String.fromCharCode(c) : c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : "\\x" + c.toString(16).padStart(2, "0");
  return s + '"';
}

/** Runs `sh -c script` with `$@` = args, directly and with the command behind warm; the script execs "$W" "$@" ($W empty directly). */
export function viaShell(w: WarmEnv, script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): { direct: Result; warm: Result } {
  const env = opts.env ?? w.env;
  const direct = w.run(["sh", "-c", script, "sh", ...args], { direct: true, env: { ...env, W: "" }, input: opts.input, cwd: opts.cwd });
  const warm = w.run(["sh", "-c", script, "sh", ...args], { direct: true, env: { ...env, W: WARM }, input: opts.input, cwd: opts.cwd });
  return { direct, warm };
}

/** A command, directly and through warm, must give the same bytes and status; and it must have run warm. */
export function sameWarm(w: WarmEnv, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Result {
  const before = w.status()?.runs ?? 0;
  const direct = w.run(args, { ...opts, direct: true });
  const warm = w.run(args, opts);
  same(warm, direct, args.join(" "));
  assert.equal((w.status()?.runs ?? 0) - before, 1, `${args.join(" ")} ran warm`);
  return direct;
}
