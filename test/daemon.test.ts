// The daemon's life as users see it: started on demand exactly once,
// recovered after a crash, robust to bad frames and lost processes,
// reporting and stopping on request.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodeFrame } from "../daemon/src/protocol/codec";
import { native } from "../daemon/src/native";
import { decodeValue } from "../daemon/src/inside-node/wire";
import { listeningPorts, signalParent } from "./helpers/parent-signal";
import { alive, fixture, NODE, WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

/** Sends raw bytes to the daemon and returns every reply frame it sends before closing. */
function rawRequest(socket: string, bytes: Buffer, hangUp = false): Promise<{ t: string; code?: string; why?: string }[]> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    const chunks: Buffer[] = [];
    c.on("data", (d) => chunks.push(d));
    c.on("error", reject);
    c.on("close", () => {
      const all = Buffer.concat(chunks);
      const out = [];
      for (let at = 0; at + 4 <= all.length; ) {
        const n = all.readUInt32BE(at);
        out.push(decodeValue(all.subarray(at + 4, at + 4 + n)) as { t: string; code?: string; why?: string });
        at += 4 + n;
      }
      resolve(out);
    });
    c.write(bytes);
    if (hangUp) c.end();
  });
}

const socketOf = (env: WarmEnv) => join(env.runtimeDir, "daemon.sock");

/** The pid a probe prints with its `pid` action. */
function printedPid(stdout: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve) => {
    let out = "";
    stdout.on("data", (d) => {
      out += d;
      const m = /pid (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
}

test("32 first invocations at once start exactly one daemon and all succeed", async () => {
  const runs = Array.from({ length: 32 }, (_, i) => w.runAsync([NODE, fixture("probe.js"), "quiet", "out", `run ${i}`]));
  const results = await Promise.all(runs);
  results.forEach((r, i) => {
    assert.equal(r.code, 0);
    assert.equal(r.out, `run ${i}\n`);
  });
  // Every daemon process logs how it began: started, or lost the lock to another.
  const log = readFileSync(join(w.stateDir, "daemon.log"), "utf8");
  const started = log.split("\n").filter((l) => l.includes('"msg":"daemon started"'));
  const lost = log.split("\n").filter((l) => l.includes("another daemon holds the lock"));
  assert.equal(started.length, 1, log);
  assert.equal(lost.length, 0, "no second daemon was even spawned");

});

test("warm --version, status, status --json", async () => {
  // A run served warm, for `runs` to count: on a loaded machine the first runs of a tool go direct
  // while its pool starts, so wait for the pool and run once more.
  const probe = () => assert.equal(w.run([NODE, fixture("probe.js"), "quiet"]).status, 0);
  await w.warmed("probe.js", probe);
  probe();
  const v = w.run(["--version"]);
  assert.equal(v.stdout.toString(), `warm ${JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")).version}\n`);
  const text = w.run(["status"]);
  assert.equal(text.status, 0);
  assert.match(text.stdout.toString(), /^warm \S+, daemon pid \d+/);
  assert.match(text.stdout.toString(), /pools: \d+/);
  const json = w.status();
  assert.ok(json);
  assert.ok(json.runs >= 1);
});

test("a malformed, oversized or wrongly typed frame gets an error reply and the daemon keeps serving", async () => {
  w.run([NODE, fixture("probe.js"), "quiet"]);
  const socket = socketOf(w);
  const cases: [string, Buffer, string][] = [
    ["garbage", Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), "bad-type"],
    ["oversized", Buffer.from([0x7f, 0, 0, 0]), "frame-too-large"],
    ["not a map", Buffer.from([0, 0, 0, 1, 0x90]), "not-a-map"],
    ["unknown type", encodeFrame({ t: "dance", v: 1 }), "bad-message"],
    ["wrong version", encodeFrame({ t: "status", v: 99 }), "version"],
    ["run without fds", encodeFrame({ t: "run", v: 1, argv: [Buffer.from("x")] }), "bad-fds"],
  ];
  for (const [what, bytes, code] of cases) {
    const replies = await rawRequest(socket, bytes);
    assert.equal(replies.length, 1, what);
    assert.equal(replies[0].t, "error", what);
    assert.equal(replies[0].code, code, what);
  }
  // A truncated frame followed by a hang-up: no reply needed, nothing breaks.
  assert.deepEqual(await rawRequest(socket, Buffer.from([0, 0, 0, 50, 0x81]), true), []);
  const r = w.run([NODE, fixture("probe.js"), "quiet", "out", "still serving"]);
  assert.equal(r.stdout.toString(), "still serving\n");
});

test("a warm process killed mid-run: the shim dies of the same signal", async () => {
  await w.ready();
  const child = w.start([NODE, fixture("probe.js"), "quiet", "pid", "hang"]);
  const toolPid = await printedPid(child.stdout!);
  process.kill(toolPid, "SIGKILL");
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, sig) => resolve([c, sig])));
  assert.equal(code, null);
  assert.equal(signal, "SIGKILL");
});

test("a child the tool leaves in its process group outlives it, as in a direct run (the shim's exit is no hang-up)", async () => {
  // The warm process tells the shim its status itself; the shim exits at
  // once, and the daemon may see that before the process's own report.
  for (let i = 0; i < 5; i++) {
    await w.ready();
    const marks = [true, false].map((direct) => join(w.dir, `left-${i}-${direct ? "direct" : "warm"}`));
    for (const [k, mark] of marks.entries()) {
      const r = w.run([NODE, fixture("probe.js"), "quiet", "leave", mark, "out", "done"], { direct: k === 0 });
      assert.equal(r.stdout.toString(), "done\n");
      assert.equal(r.status, 0);
      writeFileSync(`${mark}.go`, ""); // the shim (or the direct run) has exited: the child writes its mark now
    }
    await w.until(() => `both left-behind children to write their marks: ${marks.filter(existsSync).join(", ")}`, () => marks.every(existsSync));
  }
});

test("a shim of another warm version: refused before anything starts, the daemon retires, the next run gets a new one", async () => {
  // A real run request, fds and all, as a shim of another version would send it.
  w.run([NODE, fixture("probe.js"), "quiet"]);
  await w.ready();
  const old = w.pids();
  const c = connect(socketOf(w));
  await new Promise<void>((resolve) => c.on("connect", () => resolve()));
  const fd = (c as unknown as { _handle: { fd: number } })._handle.fd;
  const frame = encodeFrame({
    t: "run", v: 1, warm: "0.0.0-other", argv: [Buffer.from("node"), Buffer.from(fixture("probe.js"))],
    exe: Buffer.from(NODE), env: [], cwd: Buffer.from("/"), umask: 18,
  });
  native.sendAll(fd, frame, [0, 1, 2]);
  const replies = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    c.on("data", (d) => chunks.push(d));
    c.on("close", () => resolve(Buffer.concat(chunks)));
  });
  const reply = decodeValue(replies.subarray(4)) as { t: string; code: string; why: string };
  assert.equal(reply.t, "error");
  assert.equal(reply.code, "version");
  assert.match(reply.why, /0\.0\.0-other/);
  await w.until("the old daemon and its idle processes to exit", () => old.every((pid) => !alive(pid)));
  const r = w.run([NODE, fixture("probe.js"), "quiet", "out", "new daemon"]);
  assert.equal(r.stdout.toString(), "new daemon\n");
  assert.notEqual(w.status()!.pid, old[0]);
});

test("warm stop ends the daemon and every warm process", async () => {
  const other = new WarmEnv();
  other.run([NODE, fixture("probe.js"), "quiet"]);
  await other.ready();
  const pids = other.pids();
  assert.ok(pids.length >= 2);
  const r = spawnSync(WARM, ["stop"], { env: other.env });
  assert.equal(r.status, 0);
  await other.until("everything to exit", () => pids.every((p) => !alive(p)));
  assert.equal(other.status(), null);
  await other.stop();
});

test("the daemon exits by itself after its idle timeout", async () => {
  const other = new WarmEnv();
  other.writeConfig({ idleTimeoutMinutes: 0.02 });
  other.run([NODE, fixture("probe.js"), "quiet"]);
  const pids = other.pids();
  await other.until("the idle daemon to exit", () => pids.every((p) => !alive(p)), 20_000);
  await other.stop();
});

test("config: a broken file is reported by warm status and runs still work", async () => {
  const other = new WarmEnv();
  try {
    other.writeConfig({ pool: { size: "big" }, nonsense: 1 });
    const r = other.run([NODE, fixture("probe.js"), "quiet", "out", "ok"]);
    assert.equal(r.stdout.toString(), "ok\n");
    const s = other.run(["status"]).stdout.toString();
    assert.match(s, /config error: .*config\.json: .*pool\.size.*/);
    assert.match(s, /nonsense/);
    writeFileSync(other.configFile, "{ not json");
    other.run([NODE, fixture("probe.js"), "quiet"]);
    assert.match(other.run(["status"]).stdout.toString(), /config error: .*not valid JSON/);
  } finally {
    await other.stop();
  }
});

test("config: pool size and per-tool disable", async () => {
  const other = new WarmEnv();
  try {
    other.writeConfig({ pool: { size: 2 }, tools: { "probe.mjs": { disable: true } } });
    other.run([NODE, fixture("probe.js"), "quiet"]);
    await other.ready(undefined, 2);
    const before = other.status()!;
    other.run([NODE, fixture("probe.mjs")]);
    const after = other.status()!;
    assert.equal(after.direct, before.direct + 1, "the disabled tool ran directly");
  } finally {
    await other.stop();
  }
});

test("a full disk under the state dir loses log lines and learning, never a run", async () => {
  const other = new WarmEnv();
  try {
    // Every write to the log and to the learned-state dir fails as on a full disk.
    mkdirSync(other.stateDir, { recursive: true });
    symlinkSync("/dev/full", join(other.stateDir, "daemon.log"));
    symlinkSync("/dev/full", join(other.stateDir, "preload"));
    for (let i = 0; i < 4; i++) {
      const r = other.run([NODE, fixture("probe.js"), "quiet", "out", `run ${i}`]);
      assert.equal(r.stdout.toString(), `run ${i}\n`);
      assert.equal(r.status, 0);
      await other.ready();
    }
    assert.ok(other.status()!.runs >= 3, "runs were warm all the same");
  } finally {
    await other.stop();
  }
});

test("a ready warm process killed just before a run: the run is still right", async () => {
  w.run([NODE, fixture("probe.js"), "quiet"]);
  await w.ready();
  for (const pid of w.status()!.pools.flatMap((p) => p.pids)) process.kill(pid, "SIGKILL");
  const r = w.run([NODE, fixture("probe.js"), "quiet", "out", "after a kill"]);
  assert.equal(r.stdout.toString(), "after a kill\n");
  assert.equal(r.status, 0);
});

const notRoot = process.getuid?.() !== 0;

test("a runtime dir owned by another user is refused with a clear message", { skip: notRoot && "needs root, to give the runtime dir to another user" }, async () => {
  const other = new WarmEnv();
  try {
    mkdirSync(other.runtimeDir, { recursive: true, mode: 0o700 });
    chownSync(other.runtimeDir, 65534, 65534);
    const r = other.run([NODE, fixture("probe.js"), "quiet", "out", "direct anyway"]);
    assert.equal(r.stdout.toString(), "direct anyway\n");
    assert.match(r.stderr.toString(), /^warm: refusing .*: owned by uid 65534.*running .* directly\n$/);
  } finally {
    await other.stop();
  }
});

test("at the limit on warm processes, the least recently used pool makes room", async () => {
  const other = new WarmEnv();
  try {
    other.writeConfig({ maxWarmProcesses: 2 });
    const tools = ["probe.js", "probe.mjs", "limits.js"];
    for (const tool of tools) {
      other.run([NODE, fixture(tool)]);
      await other.until(`${tool}'s pool to be ready`, () => other.status()!.pools.some((p) => p.tool.startsWith(tool) && p.ready === 1 && p.starting === 0));
      const s = other.status()!;
      const alive = s.pools.reduce((n, p) => n + p.ready + p.starting, 0);
      assert.ok(alive <= 2, `${alive} warm processes after ${tool}: ${JSON.stringify(s.pools)}`);
    }
    // The oldest (probe.js) gave way; the two most recent are ready.
    const ready = other.status()!.pools.filter((p) => p.ready > 0).map((p) => p.tool.split(" ")[0]).sort();
    assert.deepEqual(ready, ["limits.js", "probe.mjs"]);
  } finally {
    await other.stop();
  }
});

test("memory limits: a pool stays under its own, all pools under the global one", async () => {
  const other = new WarmEnv();
  try {
    // A warm process for these probes takes some 40-50 MiB (spawned: forked children share their template's pages).
    other.writeConfig({ maxMemoryMB: 80, tools: { "probe.js": { mode: "spawn", pool: { size: 3, maxMemoryMB: 100 } }, "limits.js": { mode: "spawn" } } });
    other.run([NODE, fixture("probe.js"), "quiet"]);
    // Settled where the limits stopped it: nothing starting, and its last refill
    // refused one more (it tries again only at its next caller).
    await other.until(() => `probe.js's pool to stop at its memory limit: ${JSON.stringify(other.status()?.pools)}`, () => {
      const p = other.status()!.pools.find((x) => x.tool.startsWith("probe.js"));
      return !!p && p.starting === 0 && p.ready >= 1 && p.limited;
    });
    const probe = other.status()!.pools.find((x) => x.tool.startsWith("probe.js"))!;
    assert.ok(probe.ready < 3, `pool size 3, but its 100 MiB allow fewer: ${probe.ready} ready`);
    // Another tool's pool, under the 80 MiB global limit, takes the place of the least recently used.
    other.run([NODE, fixture("limits.js")]);
    await other.until("limits.js's pool to be ready", () => other.status()!.pools.some((x) => x.tool.startsWith("limits.js") && x.ready === 1 && x.starting === 0));
    const pools = other.status()!.pools;
    const ready = pools.reduce((n, p) => n + p.ready, 0);
    assert.ok(ready <= 1, `80 MiB hold one warm process of ~45 MiB, not ${ready}: ${JSON.stringify(pools)}`);
  } finally {
    await other.stop();
  }
});

test("config: a tool's env setting separates warm processes", async () => {
  const other = new WarmEnv();
  try {
    // Pools idle long enough to be counted however loaded the machine is;
    // the short idle timeout comes after.
    other.writeConfig({ tools: { "probe.js": { env: ["PROBE_KEY"] } } });
    for (const value of ["a", "b", "a"]) {
      other.run([NODE, fixture("probe.js"), "quiet"], { env: { ...other.env, PROBE_KEY: value } });
      await other.ready();
    }
    const pools = other.status()!.pools.filter((p) => p.tool.startsWith("probe.js"));
    assert.equal(pools.length, 2, "one pool per PROBE_KEY value");
    assert.equal(pools.reduce((n, p) => n + p.hits, 0), 1, "the second 'a' run found a's warm process");
    const pids = pools.flatMap((p) => p.pids);
    other.writeConfig({ pool: { idleTimeoutMinutes: 0.03 }, tools: { "probe.js": { env: ["PROBE_KEY"] } } });
    // A pool takes its tool's new settings with its next run.
    for (const value of ["a", "b"]) other.run([NODE, fixture("probe.js"), "quiet"], { env: { ...other.env, PROBE_KEY: value } });
    await other.until("idle pools to be dropped and their processes to exit", () => other.status()!.pools.length === 0 && pids.every((pid) => !alive(pid)), 20_000);
  } finally {
    await other.stop();
  }
});

test("an insecure runtime dir is refused with a clear message and the command runs directly", async () => {
  const other = new WarmEnv();
  try {
    mkdirSync(other.runtimeDir, { recursive: true });
    chmodSync(other.runtimeDir, 0o777);
    const r = other.run([NODE, fixture("probe.js"), "quiet", "out", "direct anyway"]);
    assert.equal(r.stdout.toString(), "direct anyway\n");
    assert.equal(r.status, 0);
    assert.match(r.stderr.toString(), /^warm: refusing .*: .*0700.*running .* directly\n$/);
    assert.ok(!existsSync(socketOf(other)), "no daemon listens there");
  } finally {
    await other.stop();
  }
});

test("another user can neither reach the socket nor be served by the daemon", { skip: notRoot && "needs root, to connect as another user" }, async () => {
  w.run([NODE, fixture("probe.js"), "quiet"]);
  const socket = socketOf(w);
  const asNobody = (script: string) =>
    spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", NODE, "-e", script], { encoding: "utf8", timeout: 10_000 });
  const tryConnect = `const c=require("net").connect(${JSON.stringify(socket)}); c.on("error",e=>{console.log("error "+e.code)}); c.on("connect",()=>{c.write(Buffer.from(${JSON.stringify([...encodeFrame({ t: "status", v: 1 })])})); }); c.on("data",d=>console.log("served")); c.on("close",()=>console.log("closed"));`;
  assert.match(asNobody(tryConnect).stdout, /error EACCES/);
  // Even with the directory opened up, the daemon drops the peer by its uid.
  chmodSync(w.runtimeDir, 0o755);
  chmodSync(socket, 0o777);
  try {
    const out = asNobody(tryConnect).stdout;
    assert.doesNotMatch(out, /served/);
    assert.match(out, /closed|error/);
  } finally {
    chmodSync(socket, 0o600);
    chmodSync(w.runtimeDir, 0o700);
  }
});

test("a tool signalling its parent neither opens the daemon to a debugger (SIGUSR1) nor ends it (SIGUSR2): the daemon, its parent here, ignores both", async () => {
  const r = w.run(signalParent("SIGUSR1"), { direct: true });
  assert.equal(r.status, 0, r.stderr.toString());
  const daemonPid = w.status()!.pid;
  // The first run of a script runs in a process the daemon started: its parent is the daemon.
  assert.equal(r.stdout.toString(), `parent ${daemonPid}\n`);
  await w.until("the daemon to log the signal", () => readFileSync(join(w.stateDir, "daemon.log"), "utf8").includes("SIGUSR1"));
  assert.deepEqual(listeningPorts(daemonPid), [], "the daemon listens on no TCP port (Node's inspector would, on 9229)");
  // SIGUSR2's default action would end the daemon.
  const again = w.run(signalParent("SIGUSR2"), { direct: true });
  assert.equal(again.status, 0, again.stderr.toString());
  assert.match(again.stdout.toString(), /^parent \d+\n$/);
  assert.equal(w.status()!.pid, daemonPid, "the same daemon serves on");
});
