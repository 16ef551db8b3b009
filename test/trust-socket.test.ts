// Trust (issue 16): the shim reaches only its own daemon, through a socket
// directory nobody else can swap: an attacker racing renames above it, a
// listener of another uid, symlinks, a relative XDG_RUNTIME_DIR. Each case
// compares the caller's output and status with the direct run, and prints
// the worst wall time of a caller.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { call, ECHO, fakeServer, isRoot, NOBODY, type Outcome, sameAsDirect, untilGone, worst } from "./helpers/trust";
import { sized } from "./helpers/volume";
import { NODE, WARM, WarmEnv } from "./helpers/warm-env";

const TRIES = sized(1000, 150); // helpers/volume.ts

test(`swap race: an attacker who controls a directory above the socket's never gets a byte (${TRIES} tries)`, { timeout: 600_000, skip: !isRoot && "needs root, to run the attacker as nobody" }, async () => {
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
    for (let i = 0; i < TRIES; i++) {
      const r = call(env.env, [ECHO, "secret run"]);
      sameAsDirect(r, direct, /^warm: refusing .*att is owned by uid 65534.*running .*not-warm\.sh directly$/);
      outcomes.push(r);
    }
  } finally {
    const [conns, bytes] = (await attacker.result()).trim().split(" ").map(Number);
    console.log(`# swap race: ${TRIES} tries, attacker accepted ${conns} connections, received ${bytes} bytes (hijacks: ${bytes > 0 ? "some" : 0})`);
    assert.equal(bytes, 0, "the attacker's socket received nothing");
    await env.stop();
    rmSync(base, { recursive: true, force: true });
  }
  worst("swap race", outcomes);
});

test("a socket whose listener runs as another uid is refused before a byte is sent", { skip: !isRoot && "needs root, to listen as another uid" }, async () => {
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

test("a relative XDG_RUNTIME_DIR is ignored by shim and daemon alike: both use /tmp/warm-<uid>", { skip: !isRoot && "needs root, to run as a uid of its own (so /tmp/warm-<uid> is this test's)" }, async () => {
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
