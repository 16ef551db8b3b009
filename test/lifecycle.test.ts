// Stopping the daemon never loses a run: `warm stop` and SIGTERM let the
// tools running finish and give their callers their real status, while the
// socket is free at once for a new daemon; `warm stop --now` ends them and
// their callers are told so.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { completed, RUNTIMES, startGated } from "./helpers/gated";
import { alive, fixture, NODE, WarmEnv } from "./helpers/warm-env";

/** A daemon with warm processes for the gated tool of `runtime`, and a run of it waiting at its gate. */
async function running(w: WarmEnv, runtime: (typeof RUNTIMES)[number], code: number) {
  const open = join(w.dir, "open");
  writeFileSync(open, "");
  assert.equal(w.run(startArgs(runtime, open)).status, 0);
  await w.ready();
  const daemonPid = w.status()!.pid;
  const gate = join(w.dir, `gate-${runtime}`);
  const run = startGated(w, runtime, gate, code);
  const toolPid = await run.pid;
  assert.notEqual(toolPid, run.child.pid, "the tool runs warm, not in the shim's process");
  return { daemonPid, gate, run, toolPid };
}

function startArgs(runtime: (typeof RUNTIMES)[number], gate: string): string[] {
  return runtime === "node" ? [NODE, fixture("gated.js"), gate, "0"] : ["/usr/bin/python3", fixture("python/gated.py"), gate, "0"];
}

for (const runtime of RUNTIMES) {
  for (const how of ["warm stop", "SIGTERM"] as const) {
    test(`${runtime}: ${how} while a tool runs: it finishes and its caller gets its status; new callers get a new daemon meanwhile`, async () => {
      const w = new WarmEnv();
      try {
        const { daemonPid, gate, run, toolPid } = await running(w, runtime, 3);
        if (how === "warm stop") {
          const stop = w.run(["stop"]);
          assert.equal(stop.status, 0, stop.stderr.toString());
          assert.equal(stop.stderr.toString(), "");
        } else {
          process.kill(daemonPid, "SIGTERM");
          await w.until("the stopping daemon to give up its socket", () => w.status()?.pid !== daemonPid);
        }
        // The socket is free: the next caller starts (and is served by) a new daemon.
        const other = w.run([NODE, fixture("probe.js"), "quiet", "out", "served"]);
        assert.equal(other.stdout.toString(), "served\n");
        assert.notEqual(w.status()!.pid, daemonPid);
        assert.ok(alive(daemonPid), "the old daemon waits for its running tool");
        assert.ok(alive(toolPid), "the tool still runs");
        writeFileSync(gate, "");
        const r = await run.done;
        assert.deepEqual(r, { code: 3, signal: null, out: completed(toolPid, 3), err: "" });
        await w.until("the old daemon to exit after its last tool", () => !alive(daemonPid));
      } finally {
        await w.stop();
      }
    });
  }

  test(`${runtime}: warm stop --now ends a running tool, and its caller says so`, async () => {
    const w = new WarmEnv();
    try {
      const { daemonPid, run, toolPid } = await running(w, runtime, 0);
      const stop = w.run(["stop", "--now"]);
      assert.equal(stop.status, 0, stop.stderr.toString());
      const r = await run.done;
      const argv0 = runtime === "node" ? NODE : "/usr/bin/python3";
      assert.deepEqual(r, { code: 255, signal: null, out: `pid ${toolPid}\n`, err: `warm: the daemon was stopped (warm stop --now) while running ${argv0}\n` });
      assert.ok(!alive(toolPid));
      await w.until("the daemon to exit", () => !alive(daemonPid));
    } finally {
      await w.stop();
    }
  });
}

test("warm stop with nothing running: the daemon and every warm process are gone", async () => {
  const w = new WarmEnv();
  try {
    const open = join(w.dir, "open");
    writeFileSync(open, "");
    for (const runtime of RUNTIMES) w.run(startArgs(runtime, open));
    await w.ready();
    const pids = w.pids();
    assert.ok(pids.length >= 4, `a daemon, a node process, a python template and child: ${pids}`);
    assert.equal(w.run(["stop"]).status, 0);
    await w.until(() => `every process to exit: ${pids.filter(alive)}`, () => pids.every((pid) => !alive(pid)));
  } finally {
    await w.stop();
  }
});

test("warm stop: unknown arguments are refused", async () => {
  const w = new WarmEnv();
  try {
    const r = w.run(["stop", "--later"]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.toString(), "warm: stop: unknown argument --later\n");
  } finally {
    await w.stop();
  }
});
