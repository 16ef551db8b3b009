// Trust under fault (issue 16): no wait before a tool starts is unbounded.
// A stopped daemon, a socket that never accepts or whose backlog is full,
// a stopped warm process: each costs one caller the shim's limit at most,
// and no tool ever runs twice. Each case compares the caller's output and
// status with the direct run, and prints the worst wall time of a caller.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { call, countingTool, ECHO, fakeServer, freshHeartbeat, gone, measured, resume, sameAsDirect, stopped, worst } from "./helpers/trust";
import { PYTHON, WarmEnv } from "./helpers/warm-env";

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
