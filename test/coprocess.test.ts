// Coprocesses (protocol-spec/coprocess.md): tools in C and Python made warm
// by their client library run through the real shim and daemon exactly as
// directly, in fork and serial mode; each reader passes the shared vectors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, utimesSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { decodeFrame } from "../daemon/src/protocol/codec";
import { FrameReader } from "../daemon/src/protocol/frame-reader";
import { JSON_FRAMES, parseRunFields } from "../daemon/src/runtimes/coprocess/wire";
import { buildExamples, C_EXAMPLE, COPROCESS_DIR, COPROCESS_VECTORS, EXAMPLES, HAVE_GO, LUA_EXAMPLE, missing, PERL_EXAMPLE, PY_EXAMPLE, readCoprocessVectors, renderBytes, RUBY_EXAMPLE, sameWarm, viaShell } from "./helpers/coprocess";
import { same } from "./helpers/compare";
import { PYTHON, WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  buildExamples();
  w = new WarmEnv();
  w.writeConfig({
    tools: {
      example: { coprocess: { mode: "fork" } },
      "example-serial": { coprocess: { command: [C_EXAMPLE], mode: "serial", pool: 2 }, env: ["EX_SERIAL"] },
      "example-go": { coprocess: { mode: "serial", pool: 2 } },
    },
  });
});
after(async () => {
  await w.stop();
});

test("the daemon's reader and every client library's pass the coprocess vectors; the shim's decoder reads the frames to the shim", () => {
  for (const v of readCoprocessVectors()) {
    if (v.kind === "shim") {
      // What the shim decodes (the same rules as its C codec: protocol vectors).
      const m = decodeFrame(v.frame);
      const said = m.t === "started" ? `started ${String(m.pid)}` : `exit ${"code" in m ? `code ${String(m.code)}` : `signal ${String(m.signal)}`}`;
      assert.deepEqual([said, m.t !== "started" || m.pgid === m.pid, Object.keys(m).length], [v.want[0], true, m.t === "started" ? 3 : 2], v.name);
      continue;
    }
    let got: string[] | null = null;
    try {
      const reader = new FrameReader(JSON_FRAMES);
      reader.push(v.frame, []);
      const m = reader.next()?.message;
      if (!m || reader.buffered > 0) throw new Error("no single frame");
      const r = parseRunFields(m);
      got = [`argv${r.argv.map(renderBytes).join("")}`, `env${r.env.map(renderBytes).join("")}`, `cwd${renderBytes(r.cwd)}`, `umask ${r.umask}`];
    } catch {
      got = null;
    }
    if (v.kind === "run") assert.deepEqual(got, v.want, v.name);
    else assert.equal(got, null, `${v.name} must be refused`);
  }
  const count = readCoprocessVectors().length;
  const checkers: [string, string[]][] = [[join(COPROCESS_DIR, "c", "test-vectors"), [COPROCESS_VECTORS]], [PYTHON, [join(COPROCESS_DIR, "python", "test_vectors.py"), COPROCESS_VECTORS]]];
  if (!missing("Ruby")) checkers.push(["ruby", [join(COPROCESS_DIR, "ruby", "test_vectors.rb"), COPROCESS_VECTORS]]);
  if (!missing("Perl")) checkers.push(["perl", [join(COPROCESS_DIR, "perl", "test_vectors.pl"), COPROCESS_VECTORS]]);
  if (HAVE_GO) checkers.push([join(COPROCESS_DIR, "go", "vectors-go"), [COPROCESS_VECTORS]]);
  if (!missing("Lua")) checkers.push(["luajit", [join(COPROCESS_DIR, "lua", "test_vectors.lua"), COPROCESS_VECTORS]]);
  for (const [cmd, args] of checkers) {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, count, r.stdout);
  }
});

/** The first run learns the names the coprocess declares (EX_DECLARED); from then on runs are warm. */
async function learn(cmd: string[], env = w.env): Promise<void> {
  w.run(cmd, { env });
  await w.ready();
}

for (const [name, cmd] of EXAMPLES.map(([name, example]) => [name, [example]] as const)) {
  test(`${name}: argv bytes (empty, non-UTF-8, large), env, cwd, umask, stdin and exit codes as directly`, { skip: missing(name) }, async () => {
    await learn([...cmd]);
    sameWarm(w, [...cmd, "a b", "", "--flag", "ünï"]);
    sameWarm(w, [...cmd, ...Array.from({ length: 2000 }, (_, i) => `arg${i}`)]);
    sameWarm(w, [...cmd, "--stdin"], { input: "line 1\nline 2\n".repeat(5000) });
    sameWarm(w, [...cmd], { env: { ...w.env, EX_EXIT: "0", EX_OTHER: "x=y", EX_EMPTY: "" } });
    for (const code of ["1", "7", "255"]) sameWarm(w, [...cmd], { env: { ...w.env, EX_EXIT: code } });
    const raw = viaShell(w, 'umask 077; cd /; exec $W "$@" "$(printf "x\\377y")" ""', [...cmd]);
    same(raw.warm, raw.direct, "raw argv bytes, umask and cwd");
    assert.match(raw.direct.stdout.toString("latin1"), /umask 0?77/);
  });

  test(`${name}: a death by signal (TERM, KILL; SEGV in C) is the caller's, as directly`, { skip: missing(name) }, async () => {
    await learn([...cmd]);
    // Ruby and Python print a crash report of their own on SEGV, with addresses that differ run to run.
    for (const sig of name === "C" ? ["15", "9", "11"] : ["15", "9"]) {
      const env = { ...w.env, EX_SIGNAL: sig };
      const direct = w.run([...cmd], { direct: true, env });
      const warm = w.run([...cmd], { env });
      same(warm, direct, `signal ${sig}`);
      assert.ok(direct.signal, `the direct run died by a signal (${sig})`);
    }
  });
}

test("serial mode: one run at a time per coprocess, the pool grows for concurrent callers, state restored between runs", async () => {
  const env = { ...w.env, EX_SERIAL: "1" };
  const bin = join(w.dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  spawnSync("ln", ["-s", C_EXAMPLE, join(bin, "example-serial")]);
  const cmd = [join(bin, "example-serial")];
  await learn(cmd, env);
  sameWarm(w, [...cmd, "x"], { env: { ...env, EX_EXIT: "3" } });
  sameWarm(w, [...cmd, "--stdin"], { env, input: "abc" });
  const raw = viaShell(w, 'umask 077; cd /tmp; exec $W "$@"', cmd, { env });
  same(raw.warm, raw.direct, "serial: umask and cwd");
  // After a run in another cwd and umask, the next run sees its own.
  sameWarm(w, [...cmd, "y"], { env });
  // Three callers at once, each holding its run open until its stdin ends: three serial coprocesses.
  const children = [1, 2, 3].map(() => w.start([...cmd, "--stdin"], { env, stdio: ["pipe", "pipe", "pipe"] }));
  const outs = children.map((c) => new Promise<string>((resolve) => {
    let out = "";
    c.stdout!.on("data", (d) => (out += d));
    c.on("close", (code) => resolve(`${code} ${out}`));
  }));
  // Each has started (it wrote to stderr, unbuffered) before any ends.
  await Promise.all(children.map((c) => new Promise((resolve) => c.stderr!.once("data", resolve))));
  const pool = w.status()!.pools.find((p) => p.tool.startsWith("example-serial"))!;
  assert.ok(pool.pids.length >= 3, `three coprocesses for three callers: ${JSON.stringify(pool)}`);
  for (const c of children) c.stdin!.end("bye");
  for (const out of await Promise.all(outs)) assert.match(out, /^0 [^]*bye$/);
});

test("the Python example declares itself with its marker line; editing a watched file restarts its coprocess", async () => {
  await learn([PY_EXAMPLE]);
  const pool = () => w.status()!.pools.find((p) => p.tool.startsWith("example.py"))!;
  const before = pool().pids;
  sameWarm(w, [PY_EXAMPLE, "1"]);
  const now = new Date();
  utimesSync(PY_EXAMPLE, now, now); // a watched file changed (same content)
  sameWarm(w, [PY_EXAMPLE, "2"]);
  await w.ready("example.py");
  assert.notDeepEqual(pool().pids, before, "a new coprocess after the change");
  const status = spawnSync(join(COPROCESS_DIR, "..", "bin", "warm"), ["status"], { env: w.env, encoding: "utf8" });
  assert.match(status.stdout, /example\.py \[coprocess ---\]/);
});

// The Python, Ruby, Perl and Lua libraries watch every module file the start-up loaded; their own file is one.
for (const [name, example, library] of [
  ["Python", PY_EXAMPLE, join(COPROCESS_DIR, "python", "warm_coprocess.py")],
  ["Ruby", RUBY_EXAMPLE, join(COPROCESS_DIR, "ruby", "warm_coprocess.rb")],
  ["Perl", PERL_EXAMPLE, join(COPROCESS_DIR, "perl", "WarmCoprocess.pm")],
  ["Lua", LUA_EXAMPLE, join(COPROCESS_DIR, "lua", "warm_coprocess.lua")],
] as const) {
  test(`${name}: a change to a module the start-up loaded (not named in watch) restarts the coprocess`, { skip: missing(name) }, async () => {
    await learn([example]); // learns the names its hello declares
    await learn([example]); // a pool of their key
    const label = basename(example);
    const pids = () => w.status()!.pools.find((p) => p.tool.startsWith(label))!.pids;
    const before = pids();
    const now = new Date();
    utimesSync(library, now, now); // the library's own file changed (same content)
    sameWarm(w, [example, "after the change"]);
    await w.ready(label);
    assert.notDeepEqual(pids(), before, "a new coprocess after the change");
  });
}

test("warm coprocess-check passes every case for each library's example (C and Python in serial mode too), and fails a tool that is no coprocess", async () => {
  const check = (cmd: string[], env = w.env) => spawnSync(WARM, ["coprocess-check", "--", ...cmd], { env, encoding: "utf8", timeout: 120_000 });
  const runs: [string, string[], NodeJS.ProcessEnv?][] = [["C", [C_EXAMPLE]], ["C serial", [C_EXAMPLE], { ...w.env, EX_SERIAL: "1" }], ["Python serial", [PY_EXAMPLE], { ...w.env, EX_SERIAL: "1" }], ...EXAMPLES.slice(1).map(([name, example]): [string, string[]] => [name, [example]])];
  for (const [name, cmd, env] of runs) {
    if (missing(name.split(" ")[0])) continue;
    const r = check(cmd, env);
    assert.equal(r.status, 0, `${name}:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /every case passed/);
    assert.ok(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length >= 24, r.stdout);
  }
  const not = check(["/bin/true"]);
  assert.equal(not.status, 1);
  assert.match(not.stdout, /^FAIL hello: .*no valid hello/m);
});

test("the caller's signals reach the run: its child in fork mode, the coprocess in serial mode; the shim dies of the same signal", async () => {
  const bin = join(w.dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  if (!existsSync(join(bin, "example-serial"))) spawnSync("ln", ["-s", C_EXAMPLE, join(bin, "example-serial")]);
  const serialEnv = { ...w.env, EX_SERIAL: "1" };
  for (const [cmd, env] of [[[C_EXAMPLE, "--stdin"], w.env], [[join(bin, "example-serial"), "--stdin"], serialEnv]] as const) {
    await learn([...cmd], env);
    const child = w.start([...cmd], { env, stdio: ["pipe", "pipe", "pipe"] });
    // The tool has started (it wrote to stderr) and blocks reading its stdin.
    await new Promise((resolve) => child.stderr!.once("data", resolve));
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    child.kill("SIGTERM");
    assert.equal(await ended, "SIGTERM", `${cmd[0]}: the shim re-raised the tool's death by SIGTERM`);
    child.stdin!.destroy();
  }
});
