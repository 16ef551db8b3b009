// A run outlives the process that would report it: a tool running when its
// daemon is killed finishes and its caller gets its real status (the warm
// process tells the shim itself); a shim killed by SIGKILL takes its tool
// with it, as a direct run's process would have been killed; nothing of
// either is left behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { completed, type GatedRun, RUNTIMES, type Runtime, startGated } from "./helpers/gated";
import { sized } from "./helpers/volume";
import { alive, fixture, NODE, PYTHON, spawnModeCopy, WarmEnv } from "./helpers/warm-env";

// Rounds of 50 concurrent runs per runtime with the daemon killed mid-way
// (20 at full volume, helpers/volume.ts: the numbers in the issue).
const ROUNDS = sized(20, 3);
const CONCURRENT = 50;

/** A daemon with ready warm processes for the gated tool of `runtime` (forked children, in a mode that forks). */
async function warmFor(w: WarmEnv, runtime: Runtime): Promise<void> {
  const open = join(w.dir, "open");
  writeFileSync(open, "");
  if (runtime === "node") {
    // A forked child where Node tools fork, else a spawned process: what the runs below meet.
    await w.warmed("gated.js", () => assert.equal(w.run([NODE, fixture("gated.js"), open, "0"]).status, 0));
    return;
  }
  assert.equal(w.run([PYTHON, fixture("python/gated.py"), open, "0"]).status, 0);
  await w.ready();
}

async function gone(w: WarmEnv, what: string, pids: number[]): Promise<void> {
  await w.until(() => `${what} to exit: ${pids.filter(alive).join(", ")} still there`, () => pids.every((pid) => !alive(pid)));
}

// Python tools run alike in either Node mode: daemon-death-spawn.test.ts runs Node's only.
for (const runtime of spawnModeCopy() ? RUNTIMES.filter((r) => r === "node") : RUNTIMES) {
  test(`${runtime}: the daemon killed while a tool that ignores SIGHUP runs: it finishes and its caller gets its status`, async () => {
    const w = new WarmEnv();
    try {
      await warmFor(w, runtime);
      const before = w.pids();
      const gate = join(w.dir, "gate");
      const run = startGated(w, runtime, gate, 7);
      const toolPid = await run.pid;
      assert.notEqual(toolPid, run.child.pid, "the tool runs warm");
      process.kill(before[0], "SIGKILL");
      await gone(w, "the daemon", [before[0]]);
      writeFileSync(gate, "");
      assert.deepEqual(await run.done, { code: 7, signal: null, out: completed(toolPid, 7), err: "" });
      // Idle warm processes went with their daemon; the next caller gets a new one.
      await gone(w, "the dead daemon's warm processes", [...before, toolPid]);
      assert.equal(w.run([NODE, fixture("probe.js"), "quiet", "out", "again"]).stdout.toString(), "again\n");
    } finally {
      await w.stop();
    }
  });

  test(`${runtime}: the daemon killed while a tool runs that then dies of an uncaught error: its caller gets status 1 and the error`, async () => {
    const w = new WarmEnv();
    try {
      await warmFor(w, runtime);
      const daemon = w.status()!.pid;
      const gate = join(w.dir, "gate");
      const run = startGated(w, runtime, gate, "throw");
      const toolPid = await run.pid;
      assert.notEqual(toolPid, run.child.pid, "the tool runs warm");
      process.kill(daemon, "SIGKILL");
      await gone(w, "the daemon", [daemon]);
      writeFileSync(gate, "");
      const r = await run.done;
      assert.deepEqual([r.code, r.signal, r.out], [1, null, completed(toolPid, "throw")]);
      assert.match(r.err, runtime === "node" ? /Error: gated failure\n/ : /RuntimeError: gated failure\n$/);
    } finally {
      await w.stop();
    }
  });

  test(`${runtime}: the shim killed (SIGKILL) while a tool that ignores SIGHUP writes: the tool is killed, nothing more is written`, async () => {
    const w = new WarmEnv();
    try {
      await warmFor(w, runtime);
      const run = startGated(w, runtime, join(w.dir, "never"), 0, { tick: true });
      const toolPid = await run.pid;
      assert.notEqual(toolPid, run.child.pid, "the tool runs warm");
      run.child.kill("SIGKILL");
      // stdout ends only when no process holds its write end any more.
      const r = await run.done;
      assert.equal(r.signal, "SIGKILL");
      // Its fds (stdout's write end) close as it dies, a moment before it is gone.
      await gone(w, "the tool", [toolPid]);
      assert.match(r.out, /^pid \d+\n(tick\n)*$/);
      // The daemon serves on.
      assert.equal(w.run([NODE, fixture("probe.js"), "quiet", "out", "still"]).stdout.toString(), "still\n");
    } finally {
      await w.stop();
    }
  });

  for (const when of ["running", "ending"] as const) {
    const what = when === "running" ? "while they run" : "as they end";
    test(`${runtime}: the daemon killed during ${CONCURRENT} concurrent runs ${what}, ${ROUNDS} rounds: every run completes and its caller gets its status`, async (t) => {
      const w = new WarmEnv();
      let completedButError = 0;
      let [warm, direct] = [0, 0];
      let [doneAtKill, answeredAtKill] = [0, 0];
      const failures: string[] = [];
      try {
        for (let round = 0; round < ROUNDS; round++) {
          await warmFor(w, runtime);
          const before = w.pids();
          const gate = join(w.dir, `gate-${round}`);
          const runs = Array.from({ length: CONCURRENT }, (_, i) => startGated(w, runtime, gate, i % 8));
          // Mid-way: a fifth of the tools are running, the rest anywhere between connecting and starting.
          let printed = 0;
          await Promise.race([
            new Promise<void>((resolve) => {
              for (const run of runs) void run.pid.then(() => ++printed >= CONCURRENT / 5 && resolve());
            }),
            Promise.all(runs.map((r) => r.done)),
          ]);
          if (when === "ending") {
            // The gate opens first: the daemon dies as the running tools end
            // and report (some done, some ending), while others still start.
            const ending = watchDone(runs);
            writeFileSync(gate, "");
            await Promise.race([Promise.all(runs.map((r) => r.done)), ending.first]);
            doneAtKill += ending.count();
            answeredAtKill += runs.filter((r) => r.child.exitCode !== null).length;
          }
          process.kill(before[0], "SIGKILL");
          writeFileSync(gate, "");
          const pids: number[] = [];
          for (const [i, run] of runs.entries()) {
            const r = await run.done;
            const pid = Number(/^pid (\d+)\n/.exec(r.out)?.[1] ?? -1);
            pids.push(pid);
            if (pid === run.child.pid) direct++; // the shim ran it itself (nothing had started when the daemon died)
            else warm++;
            const ok = r.code === i % 8 && r.signal === null && r.out === completed(pid, i % 8) && r.err === "";
            if (!ok) failures.push(`round ${round} run ${i}: ${JSON.stringify(r)}`);
            if (!ok && r.out.includes("done")) completedButError++;
          }
          await gone(w, `round ${round}'s daemon, warm processes and tools`, [...before, ...pids.filter((p) => p > 0)]);
        }
        t.diagnostic(`${ROUNDS * CONCURRENT} runs: ${warm} warm, ${direct} direct; ${failures.length} wrong, ${completedButError} completed but the caller saw an error${when === "ending" ? `; when the daemon was killed ${doneAtKill} tools had printed done, ${answeredAtKill} callers had their status` : ""}`);
        assert.equal(completedButError, 0, "runs whose tool completed but whose caller saw an error");
        assert.deepEqual(failures, []);
      } finally {
        await w.stop();
      }
    });
  }
}

/** Watches runs for their "done" line: how many printed it so far, and when the first did. */
function watchDone(runs: GatedRun[]): { count: () => number; first: Promise<void> } {
  let n = 0;
  let resolve!: () => void;
  const first = new Promise<void>((r) => (resolve = r));
  for (const run of runs) {
    let out = "";
    run.child.stdout?.on("data", (d) => {
      const had = /(^|\n)done /.test(out);
      out += d;
      if (!had && /(^|\n)done /.test(out)) {
        n++;
        resolve();
      }
    });
  }
  return { count: () => n, first };
}
