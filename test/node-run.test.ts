// A Node script run through the real shim and daemon is indistinguishable
// from `node script`: same stdout and stderr bytes, same status, and the
// tool sees the same argv, env, cwd, umask and fds.
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { compare as compareRuns, same } from "./helpers/compare";
import { resume, stopped } from "./helpers/trust";
import { fixture, NODE, type Result, WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

/** A node invocation, directly and through warm (see helpers/compare.ts). */
const compare = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; warm?: boolean } = {}): Promise<Result> => compareRuns(w, [NODE, ...args], opts);

test("argv, argv0, cwd, umask, env and require.main match a direct run", async () => {
  const direct = await compare([fixture("probe.js"), "a b", "", "--flag", "ünï"]);
  const report = JSON.parse(direct.stdout.toString().split("\n")[0]);
  assert.equal(report.main, true);
  assert.equal(Buffer.from(report.argv[1], "hex").toString(), "a b");
});

test("non-UTF-8 and empty argv bytes reach the tool as node decodes its own argv", async () => {
  // spawn cannot pass raw bytes, so a shell builds the argv.
  const args = (prefix: string) => ["sh", "-c", `exec ${prefix} "$0" "$1" "$(printf 'x\\377y')" ""`, NODE, fixture("probe.js")];
  const direct = w.run(args(""), { direct: true });
  assert.equal(direct.status, 0);
  assert.match(direct.stdout.toString(), /"78efbfbd79",""/); // U+FFFD for the lone byte, as node decodes
  for (let i = 0; i < 2; i++) {
    same(w.run(args(`"${WARM}"`), { direct: true }), direct, "raw argv");
    await w.ready();
  }
});

test("the caller's environment arrives exactly, with nothing of warm's", async () => {
  const env = { ...w.env, PROBE_EMPTY: "", PROBE_SPACES: "a  b", PROBE_EQ: "x=y=z" };
  await compare([fixture("probe.js")], { env });
});

test("umask and cwd of the caller", async () => {
  const sub = join(w.work, "sub dir");
  mkdirSync(sub, { recursive: true });
  const script = `cd "$2" && umask 077 && exec "$0" "$1"`;
  const direct = w.run(["sh", "-c", script, NODE, fixture("probe.js"), sub], { direct: true });
  const warm = w.run(["sh", "-c", `cd "$3" && umask 077 && exec "$0" "$1" "$2"`, WARM, NODE, fixture("probe.js"), sub], { direct: true });
  same(warm, direct, "cwd and umask");
  assert.match(direct.stdout.toString(), /"umask":63/);
});

test("exit codes: process.exit, process.exitCode, exit handlers", async () => {
  await compare([fixture("probe.js"), "quiet", "exit", "3"]);
  await compare([fixture("probe.js"), "quiet", "exitCode", "5"]);
  await compare([fixture("probe.js"), "quiet", "onexit", "exit", "7"]);
  await compare([fixture("probe.js"), "quiet", "exit", "256"]);
});

test("an uncaught exception prints the same stack and exits 1", async () => {
  const direct = await compare([fixture("probe.js"), "quiet", "throw"]);
  assert.equal(direct.status, 1);
  assert.match(direct.stderr.toString(), /probe failure/);
});

test("an unhandled rejection behaves as in node", async () => {
  const direct = await compare([fixture("probe.js"), "quiet", "reject"]);
  assert.equal(direct.status, 1);
});

test("a tool writing to fd 3, which it did not open, reaches node's own fd 3 as directly, never warm's link", async () => {
  const direct = await compare([fixture("fd3.js")]);
  assert.match(direct.stdout.toString(), /^writing to fd 3: E[A-Z]+\ndone\n$/);
  // Served by a template's child too (and by pre-started processes when those are all there is).
  await w.warmed("fd3.js", () => w.run([NODE, fixture("fd3.js")]));
  for (let i = 0; i < 3; i++) same(w.run([NODE, fixture("fd3.js")]), direct, `warm run ${i}`);
});

test("a tool that dies by a signal is seen dying by that signal", async () => {
  const direct = await compare([fixture("probe.js"), "quiet", "kill", "SIGTERM"]);
  assert.equal(direct.signal, "SIGTERM");
  await compare([fixture("probe.js"), "quiet", "kill", "SIGKILL"]);
});

test("modules that swap process.emit as signal-exit 4 does, preloaded or loaded in the run, end the run as directly", async () => {
  const cli = fixture("emit-keeper/cli.js");
  // Until its pool serves as its later runs are served (by forked children where Node tools fork).
  await w.warmed("cli.js", () => w.run([NODE, cli]));
  for (const args of [[], ["unwrap"], ["late"], ["late", "unwrap"]]) {
    const direct = w.run([NODE, cli, ...args], { direct: true });
    const before = w.status()!.runs;
    same(w.run([NODE, cli, ...args]), direct, `cli.js ${args.join(" ")}`);
    assert.equal(w.status()!.runs - before, 1, "it ran warm");
    await w.ready("cli.js");
  }
});

test("stdin streams through, stdout and stderr keep their order on one fd", async () => {
  const input = "line one\nline two\n".repeat(1000);
  const direct = await compare([fixture("probe.js"), "quiet", "cat"], { input });
  assert.equal(direct.stdout.toString(), input);
  // 2>&1: both streams to the same pipe, interleaved exactly.
  const sh = (cmd: string) => w.run(["sh", "-c", `${cmd} 2>&1`], { direct: true });
  const a = sh(`"${NODE}" "${fixture("probe.js")}" quiet mix`);
  const b = sh(`"${WARM}" node "${fixture("probe.js")}" quiet mix`);
  assert.equal(b.stdout.toString(), a.stdout.toString());
});

test("a stdin pipe the tool read is left blocking, as node leaves it", async () => {
  const check = `import os, fcntl; print("nonblock", bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK))`;
  const run = (cmd: string) => w.run(["sh", "-c", `printf 'data' | { ${cmd} "${fixture("probe.js")}" quiet cat; python3 -c '${check}'; }`], { direct: true });
  const direct = run(`"${NODE}"`);
  assert.equal(direct.stdout.toString(), "datanonblock False\n");
  await w.ready();
  assert.equal(run(`"${WARM}" "${NODE}"`).stdout.toString(), direct.stdout.toString());
});

test("an ES module entry gets its own import.meta.url and no require", async () => {
  const direct = await compare([fixture("probe.mjs"), "x"]);
  assert.match(direct.stdout.toString(), /"url":"file:\/\//);
  assert.match(direct.stdout.toString(), /"hasRequire":false/);
  await compare([fixture("probe.mjs"), "throw"]);
  await compare([fixture("probe.mjs"), "await"]);
});

test("a CLI found on PATH by its shebang runs warm with the same argv0", async () => {
  const bin = join(w.dir, "bin");
  mkdirSync(bin, { recursive: true });
  copyFileSync(fixture("shebang-tool"), join(bin, "shebang-tool"));
  chmodSync(join(bin, "shebang-tool"), 0o755);
  const env = { ...w.env, PATH: `${bin}:${w.env.PATH}` };
  const direct = w.run(["shebang-tool", "x", "y"], { direct: true, env });
  const first = w.run(["shebang-tool", "x", "y"], { env });
  same(first, direct, "shebang tool");
  await w.ready("shebang-tool");
  same(w.run(["shebang-tool", "x", "y"], { env }), direct, "shebang tool, warm");
  assert.equal(direct.stdout.toString(), 'shebang tool ["x","y"] node\n');
});

test("multi-call: a symlink named after the tool acts as `warm tool`", async () => {
  const bin = join(w.dir, "multi");
  const real = join(w.dir, "real");
  mkdirSync(bin, { recursive: true });
  mkdirSync(real, { recursive: true });
  copyFileSync(fixture("shebang-tool"), join(real, "shebang-tool"));
  chmodSync(join(real, "shebang-tool"), 0o755);
  symlinkSync(WARM, join(bin, "shebang-tool"));
  const env = { ...w.env, PATH: `${bin}:${real}:${w.env.PATH}` };
  const r = w.run(["shebang-tool", "via-link"], { direct: true, env });
  assert.equal(r.stdout.toString(), 'shebang tool ["via-link"] node\n');
  assert.equal(r.status, 0);
});

test("a command that is not Node runs directly, unchanged", () => {
  const r = w.run(["sh", "-c", "echo out; echo err >&2; exit 4"]);
  assert.equal(r.stdout.toString(), "out\n");
  assert.equal(r.stderr.toString(), "err\n");
  assert.equal(r.status, 4);
});

test("a missing command exits 127, a non-executable one 126, with a shell-like message", () => {
  const missing = w.run(["no-such-command-xyz"]);
  assert.equal(missing.status, 127);
  assert.equal(missing.stderr.toString(), "warm: no-such-command-xyz: command not found\n");
  const notExec = w.run([fixture("probe.js")]);
  assert.equal(notExec.status, 126);
  assert.match(notExec.stderr.toString(), /^warm: .*probe\.js: Permission denied\n$/);
});

test("node's own options that warm cannot stand in for run directly and identically", async () => {
  await compare(["-e", "console.log(1+1)"], { warm: false });
  await compare(["--version"], { warm: false });
  await compare(["--no-warnings", fixture("probe.js"), "quiet", "out", "hi"]);
  await compare(["--stack-trace-limit=1", fixture("probe.js"), "quiet", "throw"]);
});

test("a run whose coverage or trace events node writes as it ends (NODE_V8_COVERAGE, c8's way; --trace-event-categories) runs directly, and writes them", async () => {
  const dir = mkdtempSync(join(w.work, "v8-coverage-"));
  const files = () => readdirSync(dir).filter((f) => f.startsWith("coverage-")).length;
  await compare([fixture("probe.js"), "quiet", "out", "hi"], { env: { ...w.env, NODE_V8_COVERAGE: dir }, warm: false });
  assert.equal(files(), 3, "a coverage file from the direct run and from each of the two through warm");
  await compare(["--trace-event-categories=v8", "--trace-event-file-pattern=" + join(dir, "trace.log"), fixture("probe.js"), "quiet", "out", "hi"], { warm: false });
  assert.ok(existsSync(join(dir, "trace.log")), "the trace events were written");
  await compare([fixture("probe.js"), "quiet", "out", "hi"], { env: { ...w.env, NODE_OPTIONS: "--trace-events-enabled --trace-event-file-pattern=" + join(dir, "opt.log") }, warm: false });
  assert.ok(existsSync(join(dir, "opt.log")), "the trace events asked for in NODE_OPTIONS were written");
});

test("a tool run with --expose-gc keeps gc, in its new contexts too; without it, sees none", async () => {
  // A warm process collects before ready with a gc of its own; it must leave the tool's flag as it found it.
  const withGc = await compare(["--expose-gc", fixture("gc-seen.js")]);
  assert.equal(withGc.stdout.toString(), "function function\n");
  const without = await compare([fixture("gc-seen.js")]);
  assert.equal(without.stdout.toString(), "undefined undefined\n");
});

test("a missing script gives node's own error", async () => {
  await compare([join(w.work, "missing.js")], { warm: false });
});

test("a caller with other resource limits than the daemon's runs directly", async () => {
  w.run([NODE, fixture("probe.js"), "quiet"]);
  await w.ready();
  const viaWarm = (prefix: string) => w.run(["sh", "-c", `${prefix} "${WARM}" "${NODE}" "${fixture("limits.js")}" >/dev/null; exec "${WARM}" "${NODE}" "${fixture("probe.js")}" quiet out ok`], { direct: true });
  const before = w.status()!.direct;
  const lowered = viaWarm("ulimit -n 512;");
  assert.equal(lowered.stdout.toString(), "ok\n");
  assert.equal(w.status()!.direct, before + 2, "both runs under the lowered limit ran directly");
  // The tool itself sees the caller's limit, as directly.
  const limit = w.run(["sh", "-c", `ulimit -n 512; exec "${WARM}" "${NODE}" "${fixture("limits.js")}"`], { direct: true });
  assert.equal(limit.stdout.toString(), "512\n");
  assert.equal(w.status()!.direct, before + 3, "the tool under the lowered limit ran directly");
});

test("a caller with other groups than the daemon's runs directly", { skip: process.getuid?.() !== 0 && "needs root, to give the caller other groups (setpriv --groups)" }, async () => {
  w.run([NODE, fixture("probe.js"), "quiet"]);
  await w.ready();
  const before = w.status()!.direct;
  const grouped = w.run(["setpriv", "--groups=12345", WARM, NODE, fixture("probe.js"), "quiet", "out", "grouped"], { direct: true });
  assert.equal(grouped.stdout.toString(), "grouped\n");
  assert.equal(w.status()!.direct, before + 1, "the run with other groups ran directly");
});

test("a warm process that cannot take a run (the caller's directory went meanwhile) runs none of the tool's exit listeners; the direct run does, once", async () => {
  // The tool loads a module that writes a line at exit: preloaded, it registers its listener in the warm process.
  const dir = mkdtempSync(join(w.dir, "exit-listener-"));
  const marks = join(dir, "marks");
  writeFileSync(join(dir, "lib.js"), `process.on("exit", () => require("fs").appendFileSync(${JSON.stringify(marks)}, "exit\\n"));\n`);
  writeFileSync(join(dir, "tool.js"), `require("./lib.js");\nconsole.log("hi");\n`);
  const tool = [NODE, join(dir, "tool.js")];
  const count = () => (existsSync(marks) ? readFileSync(marks, "utf8").split("\n").filter(Boolean).length : 0);
  for (let i = 0; i < 3; i++) {
    assert.equal(w.run(tool).stdout.toString(), "hi\n");
    await w.ready();
  }
  const pids = w.status()!.pools.filter((p) => p.script.includes(basename(dir))).flatMap((p) => p.pids);
  assert.ok(pids.length > 0, "a pool for the tool");
  // Each of the three runs wrote its line (a warm run's shim may return before its process has ended).
  await w.until("each run's exit line", () => count() === 3);
  const cwd = mkdtempSync(join(w.dir, "caller-"));
  const direct = w.status()!.direct;
  // Stopped, the warm process is handed the run once the daemon has checked the caller's directory; then the directory goes.
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  try {
    await w.until("the warm processes to stop", () => pids.every(stopped));
    const run = w.runAsync(tool, { cwd });
    await w.until("the daemon to hand the run over", () => (w.status() as { running?: number } | null)?.running === 1);
    rmdirSync(cwd);
    for (const pid of pids) process.kill(pid, "SIGCONT");
    assert.deepEqual(await run, { code: 0, out: "hi\n", err: "" });
  } finally {
    for (const pid of pids) resume(pid);
  }
  const s = w.status()!;
  assert.equal(s.direct, direct + 1, "the caller ran directly");
  assert.ok((s as { directByReason?: Record<string, number> }).directByReason?.["the warm process died before taking the run"], JSON.stringify(s));
  assert.equal(count(), 4, "the exit listener ran once: in the direct run");
});

test("node flags separate warm processes", async () => {
  const script = fixture("limits.js");
  w.run([NODE, script]);
  w.run([NODE, "--no-warnings", script]);
  await w.ready();
  const pools = w.status()!.pools.filter((p) => p.script === script);
  assert.equal(pools.length, 2, "plain and --no-warnings get a pool each");
});

test("WARM_DISABLE=1 runs the command directly without a daemon", async () => {
  const other = new WarmEnv({ WARM_DISABLE: "1" });
  try {
    const r = other.run([NODE, fixture("probe.js"), "quiet", "out", "plain"]);
    assert.equal(r.stdout.toString(), "plain\n");
    assert.equal(other.status(), null, "no daemon was started");
  } finally {
    await other.stop();
  }
});
