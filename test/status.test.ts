// What users see of warm beside their runs: `ps` names a ready warm process
// and shows a running one as a direct run would; `warm status` gives times
// in ms, direct runs by reason and pools told apart; an unknown config key
// is a warning that keeps the rest; WARM_DEBUG=1 says why a run went direct.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const ps = (pid: number) => spawnSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim();
const pgrepExact = (line: string) =>
  spawnSync("pgrep", ["-f", "-x", line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")], { encoding: "utf8" })
    .stdout.trim()
    .split("\n")
    .filter(Boolean)
    .map(Number);

/** Starts the wait-for fixture (warm or direct) and resolves with its pid once it runs. */
async function running(dir: string, tag: string, direct: boolean): Promise<{ pid: number; done: Promise<unknown> }> {
  const child = w.start([NODE, fixture("wait-for.js"), dir, tag], { direct, stdio: "ignore" });
  const done = new Promise((resolve) => child.on("close", resolve));
  const started = join(dir, `started-${tag}`);
  await w.until(`the ${tag} run to start`, () => existsSync(started) && readFileSync(started, "utf8") !== "");
  return { pid: Number(readFileSync(started, "utf8")), done };
}

test("ps: a ready warm process says what it is; a running one shows what a direct run shows (ps -o args, pgrep -f)", async () => {
  const dir = join(w.work, "ps");
  mkdirSync(dir);
  writeFileSync(join(dir, "go-a"), "");
  w.run([NODE, fixture("wait-for.js"), dir, "a"]); // makes the pool, with these arguments
  await w.ready("wait-for.js");
  const [idle] = w.status()!.pools.find((p) => p.tool.startsWith("wait-for.js"))!.pids;
  assert.equal(ps(idle), "warm: ready for wait-for.js");
  assert.deepEqual(pgrepExact(`${NODE} ${fixture("wait-for.js")} ${dir} a`), [], "an idle process does not look like the run its pool was made for");

  const direct = await running(dir, "b", true);
  const shown = ps(direct.pid);
  assert.equal(shown, `${NODE} ${fixture("wait-for.js")} ${dir} b`);
  writeFileSync(join(dir, "go-b"), "");
  await direct.done;
  for (const f of ["started-b", "go-b"]) rmSync(join(dir, f));

  const warm = await running(dir, "b", false); // the same command, warm: the caller's arguments, not the pool's
  assert.equal(warm.pid, idle, "the ready process took the run");
  assert.equal(ps(warm.pid), shown);
  assert.deepEqual(pgrepExact(shown), [warm.pid], "pgrep -f finds the tool by its direct command line");
  writeFileSync(join(dir, "go-b"), "");
  await warm.done;
});

test("warm status: times in ms, direct runs counted by reason, pools of one tool told apart by what differs", async () => {
  // A script the daemon answers `direct` (a native binary such as /bin/true the shim runs without asking).
  const notWarm = fixture("not-warm.sh");
  w.run([notWarm]);
  w.run([notWarm]);
  const probe = fixture("probe.js");
  for (const lang of ["C", "C.UTF-8"]) {
    w.run([NODE, probe, "quiet"], { env: { ...w.env, LANG: lang } });
    await w.ready("probe.js");
  }
  const text = w.run(["status"]).stdout.toString();
  assert.match(text, /latency p50: hand-off \d+\.\d+ ms, whole run \d+\.\d+ ms/);
  assert.doesNotMatch(text, /\bus\b/);
  const why = `${notWarm} runs /bin/sh, which is not an interpreter warm runs warm`;
  assert.ok(text.includes(`direct runs, by reason:\n      2  ${why}\n`), text);
  assert.match(text, /probe\.js \[no terminal\] \(LANG=C\):/);
  assert.match(text, /probe\.js \[no terminal\] \(LANG=C\.UTF-8\):/);
  const json = JSON.parse(w.run(["status", "--json"]).stdout.toString());
  assert.equal(json.directByReason[why], 2);
  assert.deepEqual(json.pools.filter((p: { tool: string }) => p.tool.startsWith("probe.js")).map((p: { differs: string }) => p.differs).sort(), ["LANG=C", "LANG=C.UTF-8"]);
});

test("config: an unknown key is a warning, and the rest of the file applies", () => {
  const probe = fixture("probe.js");
  w.writeConfig({ tools: { "probe.js": { disable: true, colour: "always" } }, idleTimeoutMinutse: 5 });
  const before = w.status()!.direct;
  assert.equal(w.run([NODE, probe, "quiet", "out", "x"]).stdout.toString(), "x\n");
  const status = w.run(["status"]).stdout.toString();
  assert.match(status, /config warning: .*config\.json: tools\.probe\.js\.colour: unknown setting, ignored/);
  assert.match(status, /config warning: .*config\.json: idleTimeoutMinutse: unknown setting, ignored/);
  assert.doesNotMatch(status, /config error/);
  assert.equal(w.status()!.direct, before + 1, "the tool's disable setting applied");
  writeFileSync(w.configFile, "{}");
});

test("WARM_DEBUG=1: a direct run says why", () => {
  const trace = w.run([fixture("not-warm.sh")], { env: { ...w.env, WARM_DEBUG: "1" } }).stderr.toString();
  assert.match(trace, /daemon says direct: \S+\/not-warm\.sh runs \/bin\/sh, which is not an interpreter warm runs warm/);
  // A native binary: the shim sees it is one and runs it without asking the daemon.
  const before = w.status()!.direct;
  const native = w.run(["/bin/true"], { env: { ...w.env, WARM_DEBUG: "1" } }).stderr.toString();
  assert.match(native, /\/bin\/true is a native executable \(ELF\), not an interpreter warm runs warm, and the config declares no coprocess: running it directly/);
  assert.equal(w.status()!.direct, before, "the daemon was not asked");
  const disabled = w.run([NODE, fixture("probe.js"), "quiet"], { env: { ...w.env, WARM_DEBUG: "1", WARM_DISABLE: "1" } }).stderr.toString();
  assert.match(disabled, /WARM_DISABLE is set/);
});

test("warm status: pools of a tool that copies the environment are told apart by a few differences, values cut, the tty mask in words", async () => {
  const cli = fixture("learning/copier.js");
  const run = (env: NodeJS.ProcessEnv) => {
    const all = { ...w.env, ...env };
    const direct = w.run([NODE, cli], { direct: true, env: all });
    const warm = w.run([NODE, cli], { env: all });
    assert.equal(warm.stdout.toString(), direct.stdout.toString());
  };
  const settled = () => w.until("the copier's pools to settle", () => (w.status()?.pools ?? []).filter((p) => p.script === cli).every((p) => p.starting === 0));
  // Every value is in this tool's key once warm has learned that its module reads them all.
  for (let i = 0; i < 3; i++) {
    run({});
    await settled();
  }
  const vars = (v: string): NodeJS.ProcessEnv => Object.fromEntries(["ONE", "TWO", "THREE", "FOUR", "FIVE"].map((k) => [`COPIER_${k}`, `${v}-${"x".repeat(60)}`]));
  for (const v of ["a", "b"]) {
    run(vars(v));
    await settled();
  }
  const lines = w.run(["status"]).stdout.toString().split("\n").filter((l) => l.includes("copier.js"));
  assert.ok(lines.length >= 2, lines.join("\n"));
  for (const line of lines) {
    assert.match(line, /^ {2}copier\.js \[no terminal\] \(/);
    assert.ok(line.length < 400, `a short label: ${line}`);
  }
  assert.ok(lines.some((l) => /COPIER_\w+=a-x+…, .*\+\d+ more\)/.test(l)), lines.join("\n"));
});
