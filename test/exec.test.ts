// warm exec through the real shim: the command's children started by name
// run warm (as the daemon's own records count them), the summary line says
// so, and the exit status is the command's (127 when it is missing, its
// signal when it dies of one).
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CliEnv } from "./helpers/cli-env";
import { venvWith } from "./helpers/python-venv";
import { fixture } from "./helpers/warm-env";

let w: CliEnv;
before(() => {
  w = new CliEnv();
});
after(async () => {
  await w.stop();
});

const SUMMARY = /^warm exec: (\d+) runs warm, (\d+) direct, (\d+(?:\.\d)?) (ms|s) of start-up CPU time saved$/m;

function summary(stderr: string): { warm: number; direct: number } {
  const m = SUMMARY.exec(stderr);
  assert.ok(m, `no summary in: ${stderr}`);
  return { warm: Number(m[1]), direct: Number(m[2]) };
}

test("children started by name (node, python3, a #! node script) run warm, with the same output as directly", () => {
  const script = `node ${fixture("shebang-tool")} one; python3 -c 'import sys; print(sys.argv)' two; mytool three`;
  const r = w.run(["exec", "--", "sh", "-c", script]);
  const direct = w.run(["sh", "-c", script], { direct: true });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), direct.stdout.toString());
  assert.deepEqual(summary(r.stderr.toString()), { warm: 3, direct: 0 });
  assert.equal(r.stderr.toString().split("\n").filter(Boolean).length, 1, "only the summary on stderr");
});

test("--tools names the tools: others run directly and are not counted", () => {
  const r = w.run(["exec", "--tools", "node", "--", "sh", "-c", "node -e 0 2>/dev/null; node -p 1 ; python3 -c 'print(2)'"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), "1\n2\n");
  // node -e and -p are options warm runs directly: the daemon says so, and counts them.
  assert.deepEqual(summary(r.stderr.toString()), { warm: 0, direct: 2 });
});

test("the exit status is the command's", () => {
  const r = w.run(["exec", "--", "sh", "-c", "exit 7"]);
  assert.equal(r.status, 7);
  assert.deepEqual(summary(r.stderr.toString()), { warm: 0, direct: 0 });
  const killed = w.run(["exec", "--", "sh", "-c", "kill -TERM $$"]);
  assert.equal(killed.signal, "SIGTERM");
});

test("a missing command exits 127 as a shell does; a bad --tools runs nothing", () => {
  const r = w.run(["exec", "--", "no-such-command-here", "x"]);
  assert.equal(r.status, 127);
  assert.match(r.stderr.toString(), /warm exec: no-such-command-here: command not found/);
  const sentinel = join(w.work, "ran");
  const bad = w.run(["exec", "--tools", "ls", "--", "touch", sentinel]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.toString(), /--tools ls: not a program warm runs warm/);
  assert.ok(!existsSync(sentinel));
  assert.equal(w.run(["exec"]).status, 2);
});

test("a child started by absolute path (process.execPath) is out of reach; $WARM_EXEC_BIN/node opts in", () => {
  const spawnBoth = `const { execFileSync: x } = require("child_process"); x(process.execPath, ["-e", "0"]); x(require("path").join(process.env.WARM_EXEC_BIN, "node"), [${JSON.stringify(fixture("shebang-tool"))}], { stdio: "inherit" });`;
  const r = w.run(["exec", "--tools", "node", "--", "node", "-e", spawnBoth]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /^shebang tool/);
  // node -e runs directly (the daemon says so: 1 direct), the execPath child never reaches warm
  // (not counted), and the child started through $WARM_EXEC_BIN runs warm.
  assert.deepEqual(summary(r.stderr.toString()), { warm: 1, direct: 1 });
});

test("when warm cannot set up (an unsafe socket directory), the command still runs, directly", () => {
  const env = { ...w.env, XDG_RUNTIME_DIR: join(w.dir, "unsafe") };
  mkdirSync(join(w.dir, "unsafe", "warm"), { recursive: true, mode: 0o755 });
  chmodSync(join(w.dir, "unsafe", "warm"), 0o755);
  const r = w.run(["exec", "--", "sh", "-c", "mytool x; exit 3"], { env });
  assert.equal(r.status, 3);
  assert.equal(r.stdout.toString(), w.run(["sh", "-c", "mytool x"], { direct: true, env }).stdout.toString());
  assert.match(r.stderr.toString(), /^warm exec: refusing .*unsafe\/warm: mode 755 lets others in \(must be 0700\); running sh without warm$/m);
});

test("warm's own variables are in no key: a tool whose module copies the whole environment runs warm in the next `warm exec` session (a new WARM_EXEC_ID), and its run sees the session as directly", async () => {
  const cli = fixture("learning/copier.js");
  // Directly under warm exec, the tool sees the session's variable.
  const direct = w.run(["node", cli], { direct: true, env: { ...w.env, WARM_EXEC_ID: "0123456789abcdef" } });
  assert.match(direct.stdout.toString(), /"session":true/);
  const settled = () => w.until("the copier's pools to settle", () => (w.status()?.pools ?? []).filter((p) => p.script === cli).every((p) => p.starting === 0));
  let last = { warm: 0, direct: 0 };
  let preloaded = false;
  for (let session = 0; session < 5 && !preloaded; session++) {
    const r = w.run(["exec", "--", "node", cli]);
    assert.equal(r.stdout.toString(), direct.stdout.toString(), `session ${session + 1}`);
    const lines = r.stderr.toString().split("\n");
    preloaded = JSON.parse(lines.find((l) => l.startsWith("{"))!).preloaded;
    last = summary(r.stderr.toString());
    await settled();
  }
  assert.ok(preloaded, "a session found the copier preloaded");
  assert.deepEqual(last, { warm: 1, direct: 0 });
  assert.equal(w.status()!.pools.filter((p) => p.script === cli).length, 1, "one pool for every session");
});

test("a linked `#!/usr/bin/env node` tool runs warm in one hop: its shebang's node is looked up past warm's own links", () => {
  const linked = w.run(["link", "mytool"]);
  assert.equal(linked.status, 0, linked.stderr.toString());
  const direct = w.run(["sh", "-c", "mytool one"], { direct: true });
  const r = w.run(["exec", "--", "sh", "-c", "mytool one"], { env: { ...w.env, WARM_DEBUG: "1" } });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), direct.stdout.toString());
  assert.doesNotMatch(r.stderr.toString(), /daemon says direct/);
  assert.deepEqual(summary(r.stderr.toString()), { warm: 1, direct: 0 });
  assert.equal(w.run(["unlink", "mytool"]).status, 0);
});

test("Python under warm exec is the interpreter it runs, not warm's link: a venv's python3 first on PATH keeps its sys.prefix, and a multiprocessing pool of spawned (or forkserver) workers works as directly", () => {
  const { python } = venvWith(w.dir, "venv-exec", []);
  const script = fixture("python/spawn_pool.py");
  const env = { ...w.env, PATH: `${join(python, "..")}:${w.env.PATH}` };
  const cmd = ["sh", "-c", `python3 ${script} spawn && python3 ${script} forkserver`];
  const direct = w.run(cmd, { direct: true, env });
  assert.equal(direct.status, 0, direct.stderr.toString());
  assert.match(direct.stdout.toString(), /^spawn \[0, 1, 4, 9, 16, 25\]\nexecutable: .*venv-exec\/bin\/python3 prefix: .*venv-exec\n/);
  const r = w.run(["exec", "--", ...cmd], { env });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), direct.stdout.toString());
  // The two scripts ran warm; their workers, started from sys.executable, ran directly (out of warm's reach).
  assert.deepEqual(summary(r.stderr.toString()), { warm: 2, direct: 0 });
});

test("a node started with an IPC channel (stdio 'ipc', NODE_CHANNEL_FD) runs directly: warm carries fds 0-2 only, and the channel works as without warm", () => {
  const cmd = ["node", fixture("ipc-parent.js")];
  const direct = w.run(cmd, { direct: true });
  assert.equal(direct.stdout.toString(), 'parent heard {"got":"ping","channel":"object"}\nchild exit 0 null\n');
  const r = w.run(["exec", "--", ...cmd]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), direct.stdout.toString());
  assert.deepEqual(summary(r.stderr.toString()), { warm: 1, direct: 1 });
});

test("a session whose runs are children forked from a template counts the start-up each skipped", async () => {
  type Pool = { script: string; ready: number; starting: number; mode: string };
  const forkedReady = () => ((w.status()?.pools ?? []) as unknown as Pool[]).some((p) => p.script.endsWith("/mytool") && p.mode.startsWith("fork") && p.ready > 0 && p.starting === 0);
  await w.until("mytool's pool to fork", () => {
    if (forkedReady()) return true;
    w.run(["exec", "--", "mytool", "x"]);
    return false;
  }, 60_000);
  const r = w.run(["exec", "--", "mytool", "x"]);
  const m = SUMMARY.exec(r.stderr.toString());
  assert.ok(m, r.stderr.toString());
  assert.deepEqual(summary(r.stderr.toString()), { warm: 1, direct: 0 });
  assert.ok(Number(m[3]) > 0, `start-up saved: ${m[0]}`);
});
