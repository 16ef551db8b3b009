// Trust under attack and fault (issue 16): the shim reaches only its own
// daemon, through a socket directory nobody else can swap; no wait before
// a tool starts is unbounded; the daemon survives file-system errors; a
// relative XDG path means the same to shim and daemon; a daemon that cannot
// start leaves nothing behind. Each case compares the caller's output and
// status with the direct run, and prints the worst wall time of a caller.
// The callers measured use the shim's default WARM_TIMEOUT_MS (1500);
// setting a case up (warming a pool) uses WarmEnv's generous one, so a
// loaded machine does not turn those runs direct.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, NODE, PYTHON, WARM, WarmEnv } from "./helpers/warm-env";

/** An echo the shim asks the daemon about (a native binary such as /bin/echo it runs without connecting). */
const ECHO = fixture("not-warm.sh");

const isRoot = process.getuid?.() === 0;
const NOBODY = ["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"];

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs argv (through warm unless direct) with stdout and stderr going to
 * files, not pipes: a caller whose request sits unread in a stopped
 * daemon's queue has its fds held there, and a pipe would not see EOF.
 */
function call(env: NodeJS.ProcessEnv, argv: string[], opts: { direct?: boolean; cwd?: string; wrap?: string[] } = {}): Outcome {
  const dir = mkdtempSync(join(tmpdir(), "warm-trust-out-"));
  const out = openSync(join(dir, "out"), "w");
  const err = openSync(join(dir, "err"), "w");
  const cmd = [...(opts.wrap ?? []), ...(opts.direct ? argv : [WARM, ...argv])];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env, cwd: opts.cwd, stdio: ["ignore", out, err], timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  closeSync(out);
  closeSync(err);
  const result = { status: r.status, stdout: readFileSync(join(dir, "out"), "utf8"), stderr: readFileSync(join(dir, "err"), "utf8"), ms };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Asserts a caller ran the command exactly as directly, bar warm's own lines on stderr. */
function sameAsDirect(got: Outcome, direct: Outcome, warmSays?: RegExp): void {
  assert.equal(got.stdout, direct.stdout);
  assert.equal(got.status, direct.status);
  // warm's own lines: what it says ("warm: ..."), and its trace ("warm[pid] ...") where a case turns WARM_DEBUG on.
  const lines = got.stderr.split("\n").filter((l) => !l.startsWith("warm["));
  const own = lines.filter((l) => l.startsWith("warm: "));
  const rest = lines.filter((l) => !l.startsWith("warm: ")).join("\n");
  assert.equal(rest, direct.stderr);
  if (warmSays) assert.match(own.join("\n"), warmSays);
  else assert.deepEqual(own, []);
}

function worst(label: string, outcomes: Outcome[]): void {
  console.log(`# ${label}: worst caller wall time ${Math.max(...outcomes.map((o) => o.ms)).toFixed(0)} ms over ${outcomes.length} callers`);
}

/** The env of a measured caller: the shim's default limit, and its trace (shown when an assertion fails). */
function measured(env: WarmEnv): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...env.env, WARM_DEBUG: "1" };
  delete e.WARM_TIMEOUT_MS;
  return e;
}

/** Makes the daemon's heartbeat fresh, as it is a moment after the daemon last turned its loop. */
function freshHeartbeat(env: WarmEnv): void {
  utimesSync(join(env.runtimeDir, "daemon.sock"), 0, Date.now() / 1000);
}

/** A tool that counts its runs in a file and prints one line. */
function countingTool(env: WarmEnv, kind: "node" | "python"): { argv: string[]; runs: () => number; file: string } {
  const file = join(env.dir, `count-${kind}`);
  writeFileSync(file, "");
  if (kind === "node") {
    const script = join(env.work, "count.js");
    writeFileSync(script, `require("fs").appendFileSync(${JSON.stringify(file)}, "x"); console.log("ran once");\n`);
    return { argv: [NODE, script], runs: () => readFileSync(file, "utf8").length, file };
  }
  const script = join(env.work, "count.py");
  writeFileSync(script, `open(${JSON.stringify(file)}, "a").write("x")\nprint("ran once")\n`);
  return { argv: [PYTHON, script], runs: () => readFileSync(file, "utf8").length, file };
}

function gone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

/** Waits (polling, bounded) for a process to exit. */
async function untilGone(pid: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!gone(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}

function resume(pid: number): void {
  try {
    process.kill(pid, "SIGCONT");
  } catch {
    // gone already
  }
}

function stopped(pid: number): boolean {
  try {
    return /^\S+ \(.*\) [tT] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** A Python one-liner server (as `setprivArgs`' user, if any) that reports "ready" on stdout and counts what it receives. */
function fakeServer(code: string, setprivArgs: string[] = []): Promise<{ child: ChildProcess; result: () => Promise<string> }> {
  const child = spawn(setprivArgs.length ? "setpriv" : PYTHON, setprivArgs.length ? [...setprivArgs, PYTHON, "-c", code] : ["-c", code], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  return new Promise((resolve) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("ready\n")) {
        resolve({
          child,
          result: () =>
            new Promise((done) => {
              child.on("close", () => done(out.slice(out.indexOf("ready\n") + 6)));
              child.stdin!.end();
            }),
        });
      }
    });
  });
}

test("swap race: an attacker who controls a directory above the socket's never gets a byte (1000 tries)", { timeout: 600_000 }, async (t) => {
  if (!isRoot) return t.skip("needs root, to run the attacker as nobody");
  const base = mkdtempSync(join(tmpdir(), "warm-trust-race-"));
  chmodSync(base, 0o755);
  const att = join(base, "att"); // the attacker's
  mkdirSync(att);
  chownSync(att, 65534, 65534);
  const xdg = join(att, "run");
  // The victim's runtime dir, made as root expects it, inside the attacker's directory.
  mkdirSync(join(xdg, "warm"), { recursive: true, mode: 0o700 });
  chmodSync(xdg, 0o700);
  const env = new WarmEnv({ XDG_RUNTIME_DIR: xdg });
  delete env.env.WARM_TIMEOUT_MS;
  // The attacker swaps run/ for its own (with a listening daemon.sock) as fast as it can.
  const attacker = await fakeServer(
    `
import os, socket, sys, threading, select
att = ${JSON.stringify(att)}
fake = os.path.join(att, "fake"); os.makedirs(os.path.join(fake, "warm"), mode=0o700)
s = socket.socket(socket.AF_UNIX); s.bind(os.path.join(fake, "warm", "daemon.sock")); s.listen(128)
got = {"conns": 0, "bytes": 0}
def serve():
    while True:
        c, _ = s.accept(); got["conns"] += 1
        c.settimeout(2)
        try:
            msg, anc, fl, ad = c.recvmsg(65536, socket.CMSG_SPACE(64))
            got["bytes"] += len(msg)
        except Exception:
            pass
threading.Thread(target=serve, daemon=True).start()
stop = []
threading.Thread(target=lambda: (sys.stdin.read(), stop.append(1)), daemon=True).start()
print("ready", flush=True)
run, real, spare = os.path.join(att, "run"), os.path.join(att, "real"), fake
while not stop:
    try:
        os.rename(run, real); os.rename(spare, run); os.rename(run, spare); os.rename(real, run)
    except OSError:
        pass
print(got["conns"], got["bytes"], flush=True)
`,
    NOBODY,
  );
  const direct = call(env.env, [ECHO, "secret run"], { direct: true });
  const outcomes: Outcome[] = [];
  try {
    for (let i = 0; i < 1000; i++) {
      const r = call(env.env, [ECHO, "secret run"]);
      sameAsDirect(r, direct, /^warm: refusing .*att is owned by uid 65534.*running .*not-warm\.sh directly$/);
      outcomes.push(r);
    }
  } finally {
    const [conns, bytes] = (await attacker.result()).trim().split(" ").map(Number);
    console.log(`# swap race: 1000 tries, attacker accepted ${conns} connections, received ${bytes} bytes (hijacks: ${bytes > 0 ? "some" : 0})`);
    assert.equal(bytes, 0, "the attacker's socket received nothing");
    await env.stop();
    rmSync(base, { recursive: true, force: true });
  }
  worst("swap race", outcomes);
});

test("a socket whose listener runs as another uid is refused before a byte is sent", async (t) => {
  if (!isRoot) return t.skip("needs root, to listen as another uid");
  const env = new WarmEnv();
  delete env.env.WARM_TIMEOUT_MS;
  mkdirSync(env.runtimeDir, { mode: 0o700 });
  // Bound by root in root's own directory, listening as nobody: only SO_PEERCRED tells.
  const fake = await fakeServer(`
import os, socket, sys, threading
s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(env.runtimeDir, "daemon.sock"))})
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
s.listen(16)
got = [0]
def serve():
    while True:
        c, _ = s.accept(); c.settimeout(2)
        try: got[0] += len(c.recv(65536))
        except Exception: pass
threading.Thread(target=serve, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
print(got[0], flush=True)
`);
  try {
    const direct = call(env.env, [ECHO, "hi"], { direct: true });
    const r = call(env.env, [ECHO, "hi"]);
    sameAsDirect(r, direct, /^warm: refusing the daemon at .*: it runs as uid 65534, not 0$/);
    worst("listener of another uid", [r]);
  } finally {
    assert.equal((await fake.result()).trim(), "0", "the other uid's listener received nothing");
    await env.stop();
  }
});

test("a symlinked socket directory or socket is refused; a symlink above it that is ours is followed", async () => {
  const env = new WarmEnv();
  const real = new WarmEnv();
  try {
    const direct = call(env.env, [ECHO, "hi"], { direct: true });
    // warm/ itself a symlink to a perfectly private directory: refused.
    mkdirSync(join(env.dir, "elsewhere"), { mode: 0o700 });
    symlinkSync(join(env.dir, "elsewhere"), env.runtimeDir);
    sameAsDirect(call(env.env, [ECHO, "hi"]), direct, /^warm: refusing .*warm: it is a symlink/);
    rmSync(env.runtimeDir);
    // daemon.sock a symlink to a real daemon's socket (same uid): refused.
    real.run([NODE, "-e", "0"]);
    mkdirSync(env.runtimeDir, { mode: 0o700 });
    symlinkSync(join(real.runtimeDir, "daemon.sock"), join(env.runtimeDir, "daemon.sock"));
    sameAsDirect(call(env.env, [ECHO, "hi"]), direct, /^warm: refusing .*daemon\.sock: it is a symlink$/);
    rmSync(env.runtimeDir, { recursive: true });
    // XDG_RUNTIME_DIR itself a link of ours (as /var/run -> /run): followed, and runs are warm.
    symlinkSync(join(env.dir, "run"), join(env.dir, "run-link"));
    const linked = { ...env.env, XDG_RUNTIME_DIR: join(env.dir, "run-link") };
    const script = join(env.work, "hello.js");
    writeFileSync(script, 'console.log("hello")\n');
    for (let i = 0; i < 3; i++) {
      sameAsDirect(call(linked, [NODE, script]), call(linked, [NODE, script], { direct: true }));
      await env.ready();
    }
    const s = spawnSync(WARM, ["status", "--json"], { env: linked, encoding: "utf8" });
    assert.ok(JSON.parse(s.stdout).runs >= 1, "runs through the linked directory were warm");
  } finally {
    await real.stop();
    await env.stop();
  }
});

test("a relative XDG_RUNTIME_DIR is ignored by shim and daemon alike: both use /tmp/warm-<uid>", async (t) => {
  if (!isRoot) return t.skip("needs root, to run as a uid of its own (so /tmp/warm-<uid> is this test's)");
  const uid = 61618;
  const home = mkdtempSync(join(tmpdir(), "warm-trust-rel-"));
  chmodSync(home, 0o755);
  mkdirSync(join(home, "work"));
  chownSync(join(home, "work"), uid, uid);
  const fallback = `/tmp/warm-${uid}`;
  rmSync(fallback, { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: join(home, "work"), XDG_RUNTIME_DIR: "relative/run", XDG_STATE_HOME: "state-too", XDG_CONFIG_HOME: "conf", WARM_TIMEOUT_MS: "10000" };
  const as = ["setpriv", "--reuid", String(uid), "--regid", String(uid), "--clear-groups"];
  const script = join(home, "hello.js");
  writeFileSync(script, 'console.log("hello")\n');
  const cwd = join(home, "work");
  let daemon = 0;
  try {
    const direct = call(env, [NODE, script], { direct: true, cwd, wrap: as });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 4; i++) {
      const r = call(env, [NODE, script], { cwd, wrap: as });
      sameAsDirect(r, direct);
      outcomes.push(r);
    }
    const s = spawnSync(as[0], [...as.slice(1), WARM, "status", "--json"], { env, cwd, encoding: "utf8" });
    assert.equal(s.status, 0, `a daemon answers at ${fallback}: ${s.stderr}`);
    daemon = JSON.parse(s.stdout).pid;
    assert.ok(JSON.parse(s.stdout).runs + JSON.parse(s.stdout).direct >= 4, "every run reached the daemon the shim started");
    assert.ok(existsSync(join(fallback, "daemon.sock")));
    assert.ok(!existsSync(join(cwd, "relative")), "nothing made under the relative path");
    worst("relative XDG_RUNTIME_DIR", outcomes);
  } finally {
    spawnSync(as[0], [...as.slice(1), WARM, "stop"], { env, cwd });
    if (daemon) await untilGone(daemon); // it flushes its state as it exits
    rmSync(fallback, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});

test("a stopped daemon costs one caller the limit; the next go direct at once; nothing runs twice", async () => {
  const env = new WarmEnv();
  const tool = countingTool(env, "node");
  let daemon = 0;
  try {
    const direct = call(env.env, tool.argv, { direct: true });
    call(env.env, tool.argv);
    await env.ready();
    daemon = env.status()!.pid;
    const ready = env.status()!.pools.flatMap((p) => p.pids);
    process.kill(daemon, "SIGSTOP");
    await env.until("the daemon to stop", () => stopped(daemon));
    freshHeartbeat(env); // stopped a moment after its loop last turned
    const outcomes = [0, 1, 2].map(() => call(measured(env), tool.argv));
    for (const r of outcomes) sameAsDirect(r, direct);
    assert.ok(existsSync(join(env.runtimeDir, "unresponsive")), "the marker is left");
    // A stale heartbeat alone (a daemon stopped a while ago) also keeps the fds away.
    rmSync(join(env.runtimeDir, "unresponsive"));
    const old = Date.now() / 1000 - 60;
    utimesSync(join(env.runtimeDir, "daemon.sock"), 0, old);
    const stale = call(measured(env), tool.argv);
    sameAsDirect(stale, direct);
    outcomes.push(stale);
    worst("SIGSTOPped daemon", outcomes);
    const before = tool.runs();
    process.kill(daemon, "SIGCONT");
    // Resumed, it reads the request it was sent and hands it over: the
    // warm process cannot tell the shim `started` and ends without running it.
    await env.until(() => `the warm process given the stale request to end; the callers' traces:\n${outcomes.map((o) => o.stderr).join("\n")}`, () => ready.every(gone));
    assert.equal(tool.runs(), before, "no tool ran a second time");
    assert.equal(before, 1 + 1 + outcomes.length, "each caller ran it once (plus the direct run and the warm-up)");
  } finally {
    if (daemon) process.kill(daemon, "SIGCONT");
    await env.stop();
  }
});

test("a socket that listens but never accepts, or whose backlog is full, costs one caller the limit", async () => {
  for (const full of [false, true]) {
    const env = new WarmEnv();
    delete env.env.WARM_TIMEOUT_MS;
    mkdirSync(env.runtimeDir, { mode: 0o700 });
    const fake = await fakeServer(`
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(env.runtimeDir, "daemon.sock"))}); s.listen(${full ? 0 : 16})
fill = []
while ${full ? "True" : "False"}:
    c = socket.socket(socket.AF_UNIX); c.setblocking(False)
    try: c.connect(s.getsockname()); fill.append(c)
    except BlockingIOError: break
print("ready", flush=True)
sys.stdin.read()
print(len(fill), flush=True)
`);
    try {
      const direct = call(env.env, [ECHO, "hi"], { direct: true });
      const outcomes = [0, 1, 2].map(() => call(env.env, [ECHO, "hi"]));
      for (const r of outcomes) sameAsDirect(r, direct);
      assert.ok(existsSync(join(env.runtimeDir, "unresponsive")), "the marker is left");
      worst(full ? "full accept backlog" : "listening, never accepting", outcomes);
    } finally {
      await fake.result();
      await env.stop();
    }
  }
});

for (const kind of ["node", "python"] as const) {
  test(`a stopped ready warm process (${kind}) costs its caller the limit, and never runs the tool after`, async (t) => {
    if (kind === "python" && !existsSync(PYTHON)) return t.skip(`no ${PYTHON}`);
    const env = new WarmEnv();
    const tool = countingTool(env, kind);
    const pids: number[] = [];
    try {
      const direct = call(env.env, tool.argv, { direct: true });
      for (let i = 0; i < 3; i++) {
        call(env.env, tool.argv);
        await env.ready();
      }
      // Every warm process of the pool (a template's children too, Python's or a Node tool's that forks) stops.
      const pools = env.status()!.pools as { pids: number[]; mode?: string }[];
      const templated = kind === "python" || pools.some((p) => p.mode?.startsWith("fork"));
      for (const pid of pools.flatMap((p) => p.pids)) {
        process.kill(pid, "SIGSTOP");
        pids.push(pid);
      }
      await env.until("the warm processes to stop", () => pids.every(stopped));
      const before = tool.runs();
      freshHeartbeat(env);
      const r = call(measured(env), tool.argv);
      sameAsDirect(r, direct);
      assert.equal(tool.runs(), before + 1);
      worst(`stopped ready ${kind} process`, [r]);
      // (The daemon may have killed the one whose caller went away: nothing ran in it.)
      for (const pid of pids) resume(pid);
      // The one handed the run (a template stays) ends without running it.
      const workers = templated ? pids.slice(1) : pids;
      await env.until(() => `the warm process handed the run to end; the caller's trace:\n${r.stderr}`, () => workers.every(gone));
      assert.equal(tool.runs(), before + 1, "the tool never ran a second time");
    } finally {
      for (const pid of pids) resume(pid);
      await env.stop();
    }
  });
}

test("a state dir that cannot be made is reported once; runs go on; SIGTERM ends the daemon", async () => {
  // A read-only file system too, where root may mount one (a bind mount, remounted read-only).
  const ro = mkdtempSync(join(tmpdir(), "warm-trust-ro-"));
  const bound = isRoot && spawnSync("mount", ["--bind", ro, ro]).status === 0;
  const mounted = bound && spawnSync("mount", ["-o", "remount,bind,ro", ro]).status === 0;
  try {
    for (const state of ["/proc/self/x", "/dev/null", ...(mounted ? [ro] : [])]) {
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
        const text = spawnSync(WARM, ["status"], { env: env.env, encoding: "utf8" }).stdout;
        assert.equal(text.split("\n").filter((l) => l.startsWith("going on without: cannot log")).length, 1, text);
        assert.equal(text.split("\n").filter((l) => l.startsWith("going on without: cannot save")).length, 1, text);
        assert.ok(env.status()!.runs >= 1, "runs were warm all the same");
        const pid = env.status()!.pid;
        process.kill(pid, "SIGTERM");
        await env.until("the daemon to exit on SIGTERM", () => gone(pid) || /^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")));
        worst(`XDG_STATE_HOME=${state === ro ? "a read-only mount" : state}`, outcomes);
      } finally {
        await env.stop();
      }
    }
  } finally {
    // Lazily: the daemon that had it as its state dir may still be on its way out.
    if (bound) assert.equal(spawnSync("umount", ["-l", ro]).status, 0, `umount ${ro}`);
    rmSync(ro, { recursive: true, force: true });
  }
});

test("a daemon that cannot start: the shim runs directly, and the daemon is gone and reaped", async (t) => {
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
  if (!isRoot) return t.skip("ulimit -u: needs root, to run as a uid of its own (root ignores RLIMIT_NPROC)");
  // Under a small ulimit -u no daemon starts: the run is direct at once, and nothing of warm's is left.
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
