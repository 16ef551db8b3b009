// Trust under fault (issue 16): a daemon whose state dir cannot be made
// goes on serving; a daemon that cannot start leaves nothing behind and its
// caller runs directly. Each case compares the caller's output and status
// with the direct run, and prints the worst wall time of a caller.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { call, gone, isRoot, type Outcome, sameAsDirect, worst } from "./helpers/trust";
import { NODE, WARM, WarmEnv } from "./helpers/warm-env";

/** A daemon whose XDG_STATE_HOME is `state`: its log and saved state cannot be written; it says so once and serves all the same. */
async function stateDirCase(state: string, label: string): Promise<void> {
  const env = new WarmEnv({ XDG_STATE_HOME: state });
  const script = join(env.work, "hello.js");
  writeFileSync(script, 'console.log("hello")\n');
  try {
    const direct = call(env.env, [NODE, script], { direct: true });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(call(env.env, [NODE, script]));
      await env.ready();
    }
    for (const r of outcomes) sameAsDirect(r, direct);
    // What the runs taught it is saved in a batch after them (preload-store.ts): the failed save is said once it was tried.
    const status = () => spawnSync(WARM, ["status"], { env: env.env, encoding: "utf8" }).stdout;
    await env.until(() => `the daemon to have tried to save what it learned: ${status()}`, () => status().includes("going on without: cannot save"));
    const text = status();
    assert.equal(text.split("\n").filter((l) => l.startsWith("going on without: cannot log")).length, 1, text);
    assert.equal(text.split("\n").filter((l) => l.startsWith("going on without: cannot save")).length, 1, text);
    assert.ok(env.status()!.runs >= 1, "runs were warm all the same");
    const pid = env.status()!.pid;
    process.kill(pid, "SIGTERM");
    await env.until("the daemon to exit on SIGTERM", () => gone(pid) || /^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")));
    worst(`XDG_STATE_HOME=${label}`, outcomes);
  } finally {
    await env.stop();
  }
}

test("a state dir that cannot be made is reported once; runs go on; SIGTERM ends the daemon", async () => {
  for (const state of ["/proc/self/x", "/dev/null"]) await stateDirCase(state, state);
});

test("a state dir on a read-only file system: the same", { skip: !isRoot && "needs root, to bind-mount a directory read-only" }, async (t) => {
  const ro = mkdtempSync(join(tmpdir(), "warm-trust-ro-"));
  const bound = spawnSync("mount", ["--bind", ro, ro]);
  try {
    if (bound.status !== 0) return t.skip(`mount --bind fails here: ${bound.stderr}`);
    const remounted = spawnSync("mount", ["-o", "remount,bind,ro", ro]);
    if (remounted.status !== 0) return t.skip(`mount -o remount,bind,ro fails here: ${remounted.stderr}`);
    await stateDirCase(ro, "a read-only mount");
  } finally {
    // Lazily: the daemon that had it as its state dir may still be on its way out.
    if (bound.status === 0) assert.equal(spawnSync("umount", ["-l", ro]).status, 0, `umount ${ro}`);
    rmSync(ro, { recursive: true, force: true });
  }
});

test("a daemon that cannot start: the shim runs directly, and the daemon is gone and reaped", async () => {
  const env = new WarmEnv();
  delete env.env.WARM_TIMEOUT_MS;
  const script = join(env.work, "hello.js");
  writeFileSync(script, 'console.log("hello")\n');
  const direct = call(env.env, [NODE, script], { direct: true });
  try {
    // One that exits at once: the shim hears EOF and goes on.
    const failing = join(env.dir, "failing-node");
    writeFileSync(failing, "#!/bin/sh\nexit 1\n");
    chmodSync(failing, 0o755);
    const quick = call({ ...env.env, WARM_NODE: failing }, [NODE, script]);
    sameAsDirect(quick, direct);
    // One stuck starting: the shim waits its limit, the watchdog kills and reaps it.
    const stuck = join(env.dir, "stuck-node");
    writeFileSync(stuck, "#!/bin/sh\nexec sleep 1000\n");
    chmodSync(stuck, 0o755);
    const r = call({ ...env.env, WARM_NODE: stuck, WARM_DEBUG: "1" }, [NODE, script]);
    const pid = Number(/daemon pid (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(pid > 0, r.stderr);
    assert.equal(r.stdout, direct.stdout);
    assert.equal(r.status, direct.status);
    await env.until("the stuck daemon to be killed and reaped", () => gone(pid), 20_000);
    worst("daemon that exits at start", [quick]);
    worst("daemon stuck at start", [r]);
  } finally {
    await env.stop();
  }
});

test("under a small ulimit -u no daemon starts: the run is direct at once, and nothing of warm's is left", { skip: !isRoot && "needs root, to run as a uid of its own (root ignores RLIMIT_NPROC)" }, () => {
  const uid = 61619;
  const home = mkdtempSync(join(tmpdir(), "warm-trust-nproc-"));
  chmodSync(home, 0o755);
  for (const d of ["run", "state"]) {
    mkdirSync(join(home, d), { mode: 0o700 });
    chownSync(join(home, d), uid, uid);
  }
  const hello = join(home, "hello.js");
  writeFileSync(hello, 'console.log("hello")\n');
  const penv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_RUNTIME_DIR: join(home, "run"), XDG_STATE_HOME: join(home, "state") };
  const as = ["setpriv", "--reuid", String(uid), "--regid", String(uid), "--clear-groups", "bash", "-c", 'ulimit -u 64 && exec "$@"', "limited"];
  try {
    const pdirect = call(penv, [NODE, hello], { direct: true, wrap: as });
    const limited = call(penv, [NODE, hello], { wrap: as });
    sameAsDirect(limited, pdirect);
    assert.equal(spawnSync("pgrep", ["-u", String(uid)]).status, 1, "no process of that uid is left");
    worst("ulimit -u 64", [limited]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
