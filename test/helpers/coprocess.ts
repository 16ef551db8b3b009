// Helpers for coprocess tests: the shared vectors, and a command run
// directly and through warm, compared byte for byte.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { same } from "./compare";
import { ROOT, type Result, WARM, type WarmEnv } from "./warm-env";

export const COPROCESS_VECTORS = join(ROOT, "protocol-spec", "coprocess-vectors.txt");
export const COPROCESS_DIR = join(ROOT, "coprocess");

export const C_EXAMPLE = join(COPROCESS_DIR, "c", "example");
export const PY_EXAMPLE = join(COPROCESS_DIR, "python", "example.py");
export const RUBY_EXAMPLE = join(COPROCESS_DIR, "ruby", "example.rb");
export const PERL_EXAMPLE = join(COPROCESS_DIR, "perl", "example.pl");
export const GO_EXAMPLE = join(COPROCESS_DIR, "go", "example-go");
export const LUA_EXAMPLE = join(COPROCESS_DIR, "lua", "example.lua");
/** Each library's example CLI, by language. */
export const EXAMPLES = [["C", C_EXAMPLE], ["Python", PY_EXAMPLE], ["Ruby", RUBY_EXAMPLE], ["Perl", PERL_EXAMPLE], ["Go", GO_EXAMPLE], ["Lua", LUA_EXAMPLE]] as const;

// Ruby (Debian's ruby) and Perl's fd passing (Debian's libsocket-msghdr-perl) may be missing: .ci/run installs them.
const HAVE_RUBY = spawnSync("ruby", ["-e", "0"]).status === 0;
const HAVE_PERL = spawnSync("perl", ["-MSocket::MsgHdr", "-e", "0"]).status === 0;
// Go (Debian's golang-go): the serial-mode library; its example is built into coprocess/go/ by buildExamples().
export const HAVE_GO = spawnSync("go", ["version"]).status === 0;
// LuaJIT (Debian's luajit): its FFI passes fds, so the Lua library needs no C module.
const HAVE_LUAJIT = spawnSync("luajit", ["-v"]).status === 0;

/** Why a language's example cannot run here (for t.skip), or false. */
export const missing = (lang: string): string | false =>
  lang === "Ruby" && !HAVE_RUBY ? "ruby is not installed" : lang === "Perl" && !HAVE_PERL ? "Socket::MsgHdr (libsocket-msghdr-perl) is not installed" : lang === "Go" && !HAVE_GO ? "go is not installed" : lang === "Lua" && !HAVE_LUAJIT ? "luajit is not installed" : false;

// Test files run in parallel (npm test): one builds at a time (flock on the
// coprocess directory), make leaves what is up to date alone, and a Go
// binary is built aside and renamed into place (go build rewrites its output
// in place, under an example another file may be running).

/** Builds the C example and vector checker. */
export function buildC(): void {
  const made = spawnSync("flock", [COPROCESS_DIR, "make", "-s", "-C", join(COPROCESS_DIR, "c")], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
}

/** Builds the C example and vector checker, and the Go ones where go is installed. */
export function buildExamples(): void {
  buildC();
  if (!HAVE_GO) return;
  for (const [out, pkg] of [[GO_EXAMPLE, "./example"], [join(COPROCESS_DIR, "go", "vectors-go"), "./vectors"]]) {
    const aside = `${out}.${process.pid}`;
    const built = spawnSync("flock", [COPROCESS_DIR, "go", "build", "-o", aside, pkg], { cwd: join(COPROCESS_DIR, "go"), encoding: "utf8" });
    assert.equal(built.status, 0, built.stderr);
    renameSync(aside, out);
  }
}

export interface CoprocessVector {
  /** run: a frame to decode; reject: one to refuse; shim: a frame to the shim a library must write byte for byte. */
  kind: "run" | "reject" | "shim";
  name: string;
  frame: Buffer;
  /** The rendered fields (argv, env, cwd, umask lines) of a `run`; what a `shim` frame says (`started 1`, `exit code 7`). */
  want: string[];
}

export function readCoprocessVectors(): CoprocessVector[] {
  const out: CoprocessVector[] = [];
  let cur: { kind: CoprocessVector["kind"]; name: string; hex: string; want: string[] } | null = null;
  for (const line of readFileSync(COPROCESS_VECTORS, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [word, ...rest] = line.split(" ");
    if (word === "run" || word === "reject" || word === "shim") cur = { kind: word, name: rest.join(" "), hex: "", want: [] };
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

/** Runs an example through warm with EX_GATE set in env: resolves its pid once it printed it, and its end. */
export function gated(w: WarmEnv, cmd: string[], env: NodeJS.ProcessEnv) {
  const child = w.start(cmd, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let resolvePid!: (pid: number) => void;
  const pid = new Promise<number>((resolve) => (resolvePid = resolve));
  child.stdout!.on("data", (d) => {
    out += d;
    const m = /^pid (\d+)\n/.exec(out);
    if (m) resolvePid(Number(m[1]));
  });
  child.stderr!.on("data", (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err })));
  return { child, pid, done };
}
