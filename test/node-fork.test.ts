// Node templates that fork (WARM_NODE_MODE / a tool's "mode"): a child has
// nothing of its template's or its siblings' that a fresh process would not
// have, tools are served by fork or spawn as their runs' cost says, and
// faults around forking never run a tool twice or hang.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { preloadRecord, type PreloadRecord } from "./helpers/tool-tree";
import { listeningPorts, signalParent } from "./helpers/parent-signal";
import { alive, fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv({ WARM_NODE_MODE: "auto" });
});
after(async () => {
  await w.stop();
});

type Pool = { tool: string; ready: number; starting: number; misses: number; mode: string; pids: number[] };
const pool = (tool: string): Pool | undefined => (w.status()?.pools as Pool[] | undefined)?.find((p) => p.tool.startsWith(tool));

/** Runs `node script args` warm until its pool forks, and waits for a child to be ready. */
async function untilForked(script: string, args: string[] = []): Promise<void> {
  await w.until(`${script}'s pool to fork; status: ${JSON.stringify(w.status())}`, () => {
    const p = pool(script);
    if (p?.mode.startsWith("fork") && p.ready >= 1 && p.starting === 0) return true;
    w.run([NODE, fixture(script), ...args]);
    return false;
  }, 60_000);
}

test("a forked child's pid, clocks, signals and fds are a fresh process's; its random values its own", async () => {
  const direct = w.run([NODE, fixture("fresh.js")], { direct: true });
  assert.equal(direct.status, 0, direct.stderr.toString());
  await untilForked("fresh.js");
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const warm = w.run([NODE, fixture("fresh.js")]);
    assert.equal(warm.stderr.toString(), "");
    const [sameLine, freshLine] = warm.stdout.toString().split("\n");
    assert.deepEqual(JSON.parse(sameLine), JSON.parse(direct.stdout.toString().split("\n")[0]), `run ${i}: what a fresh process has`);
    for (const value of JSON.parse(freshLine) as unknown[]) {
      assert.ok(!seen.has(JSON.stringify(value)), `run ${i}: ${JSON.stringify(value)} was drawn by an earlier child too`);
      seen.add(JSON.stringify(value));
    }
    assert.ok(pool("fresh.js")!.mode.startsWith("fork"), "still forking");
  }
});

test("a forked child's young generation is at least the template's floor, however little its template allocated", async () => {
  // A template idles between forks, and V8 shrank its young generation to
  // 1 MiB: each run then collected into pages its template no longer had
  // (bench/results.md). The floor is 4 MiB (fresh-state.ts).
  await untilForked("young-gen.js");
  for (let i = 0; i < 3; i++) {
    const warm = w.run([NODE, fixture("young-gen.js")]);
    assert.equal(warm.status, 0, warm.stderr.toString());
    assert.ok(Number(warm.stdout.toString()) >= 4 * 1024 * 1024, `run ${i}: new space ${warm.stdout.toString().trim()} bytes`);
  }
  assert.ok(pool("young-gen.js")!.mode.startsWith("fork"), "served by fork");
});

test("a forked child's code caches are a direct run's: each takes the cache the other made (V8 stamps caches with its flags)", async () => {
  // Without this, a template's --single-threaded stamped them otherwise: each rejected the other's and compiled again.
  const file = join(w.dir, "code-cache.bin");
  // The daemon asks node for a plain node's flags at its first warm process; templates started before the answer are replaced.
  w.run([NODE, fixture("code-cache.js"), "produce", file]);
  await w.until("the daemon to learn a plain node's flags", () => readFileSync(join(w.stateDir, "daemon.log"), "utf8").includes("learned a plain node's flags"));
  await untilForked("code-cache.js", ["produce", file]);
  for (let i = 0; i < 3; i++) {
    assert.equal(w.run([NODE, fixture("code-cache.js"), "produce", file]).stdout.toString(), "produced\n");
    const direct = w.run([NODE, fixture("code-cache.js"), "consume", file], { direct: true });
    assert.match(direct.stdout.toString(), /rejected false/, `run ${i}: a direct run takes the cache a forked child made`);
    assert.equal(w.run([NODE, fixture("code-cache.js"), "produce", file], { direct: true }).status, 0);
    const warm = w.run([NODE, fixture("code-cache.js"), "consume", file]);
    same(warm, direct, `run ${i}: a forked child takes the cache a direct run made, and its cache tag is a direct run's`);
  }
  assert.ok(pool("code-cache.js")!.mode.startsWith("fork"), "served by fork");
});

test("cheap runs are forked, runs that cost much CPU keep spawned processes; the config decides over both", async () => {
  await untilForked("probe.js", ["quiet"]);
  assert.match(pool("probe.js")!.mode, /^fork: runs take ~\d+ ms of CPU/);
  for (let i = 0; i < 3; i++) same(w.run([NODE, fixture("busy.js")]), w.run([NODE, fixture("busy.js")], { direct: true }), "busy");
  await w.ready("busy.js");
  assert.match(pool("busy.js")!.mode, /^spawn: runs take ~\d+ ms of CPU \(multi-threaded V8 is faster\)/);
  w.writeConfig({ tools: { "busy.js": { mode: "fork" }, "probe.js": { mode: "spawn" } } });
  w.run([NODE, fixture("busy.js")]);
  w.run([NODE, fixture("probe.js"), "quiet"]);
  await w.ready();
  assert.equal(pool("busy.js")!.mode, "fork: set in the config");
  assert.equal(pool("probe.js")!.mode, "spawn: set in the config");
  w.writeConfig({});
});

test("ES modules: a template preloads those its tool imports, and learns from a child those its template had not", async () => {
  const cli = fixture("fork-esm/cli.js");
  /** A warm run of the tool: stdout and status as directly; what its template had preloaded. */
  const run = (args: string[]): string[] => {
    const direct = w.run([NODE, cli, ...args], { direct: true });
    const warm = w.run([NODE, cli, ...args]);
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of ${args.join(" ")}`);
    assert.equal(warm.status, direct.status);
    return (JSON.parse(warm.stderr.toString()) as { atStart: string[] }).atStart;
  };
  await w.until(`cli.js's pool to fork; status: ${JSON.stringify(w.status())}`, () => {
    const p = pool("cli.js");
    if (p?.mode.startsWith("fork") && p.ready >= 1 && p.starting === 0) return true;
    run([]);
    return false;
  }, 60_000);
  // A child forked before early.mjs was learned (a template made while the learning run was still going) may serve one more run without it.
  let seen: string[] = [];
  await w.until(() => `a template that preloaded early.mjs (last run saw ${JSON.stringify(seen)})`, () => {
    seen = run([]);
    return seen.includes("early");
  });
  assert.deepEqual(seen, ["early"], "the template preloaded the ES module every run imports");
  // The first run that imports late.mjs loads it itself and reports it; a template made after that preloads it.
  await w.until(() => `a template that preloaded late.mjs (last run saw ${JSON.stringify(seen)})`, () => {
    seen = run(["late"]);
    return seen.includes("late");
  });
  assert.deepEqual(seen, ["early", "late"]);
  assert.match(pool("cli.js")!.mode, /^fork/, "still forking");
  // The daemon saves what it learned in a batch, off the request path (200 ms later, more under load): a run
  // can be served by a template that preloaded late.mjs before the record on disk says so.
  let record: PreloadRecord | undefined;
  await w.until(() => `the saved record to hold late.mjs: ${JSON.stringify(record)}`, () => {
    record = preloadRecord(w.stateDir, "fork-esm/");
    return !!record?.modules.some(([, id]) => id.endsWith("fork-esm/late.mjs"));
  });
  assert.deepEqual(
    // (Node's JSON import also puts the file in require.cache, so it is learned as CommonJS too.)
    record?.modules.filter(([kind, id]) => kind !== "cjs" && id.includes("fork-esm/")).map(([kind, id]) => [kind, id.split("fork-esm/")[1]]),
    [["esm", "early.mjs"], ["esm", "late.mjs"], ["json", "data.json"]],
  );
});

/** Until the process is gone or a zombie (killed, not yet reaped). */
async function dead(pid: number): Promise<void> {
  const stat = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return null; // reaped (the check and the read used to race: CI under load)
    }
  };
  await w.until(`pid ${pid} to die`, () => {
    const now = stat();
    return now === null || /^\d+ \(.*\) [ZX]/.test(now);
  });
}

test("the template killed, or a waiting child killed: the next runs are right, none is lost", async () => {
  const direct = w.run([NODE, fixture("probe.js"), "quiet"], { direct: true });
  await untilForked("probe.js", ["quiet"]);
  const [, child] = pool("probe.js")!.pids;
  process.kill(child, "SIGKILL");
  await dead(child);
  same(w.run([NODE, fixture("probe.js"), "quiet"]), direct, "after its child was killed");
  await w.ready("probe.js");
  // Its waiting child dies with it (a running one too: that run ends with warm's error, status 255).
  const [template, waiting] = pool("probe.js")!.pids;
  process.kill(template, "SIGKILL");
  await dead(template);
  await dead(waiting);
  same(w.run([NODE, fixture("probe.js"), "quiet"]), direct, "after its template was killed");
  await untilForked("probe.js", ["quiet"]);
  same(w.run([NODE, fixture("probe.js"), "quiet"]), direct, "from a new template");
});

test("a run that ends after a full GC (V8 posts jobs to worker threads a child does not have) ends", async () => {
  const args = [NODE, "--expose-gc", fixture("full-gc.js")];
  const direct = w.run(args, { direct: true });
  w.writeConfig({ tools: { "full-gc.js": { mode: "fork" } } });
  try {
    for (let i = 0; i < 3; i++) {
      same(w.run(args), direct, `run ${i}`);
      await w.ready("full-gc.js");
    }
    assert.match(pool("full-gc.js")!.mode, /^fork/);
    for (let i = 0; i < 3; i++) same(w.run(args), direct, `forked run ${i}`);
  } finally {
    w.writeConfig({});
  }
});

test("a template that hangs while forking, with many callers waiting: they run directly, and a new template serves (the hang counts once against the tool)", async () => {
  const direct = w.run([NODE, fixture("probe.js"), "quiet"], { direct: true });
  await untilForked("probe.js", ["quiet"]);
  const [template] = pool("probe.js")!.pids;
  process.kill(template, "SIGSTOP");
  try {
    same(w.run([NODE, fixture("probe.js"), "quiet"]), direct, "the ready child still serves");
    // More callers than the failures in a row after which warm gives up on a tool: each waits for a fork of its own.
    const waiting = await Promise.all(Array.from({ length: 8 }, () => w.runAsync([NODE, fixture("probe.js"), "quiet"])));
    for (const r of waiting) assert.deepEqual(r, { code: 0, out: direct.stdout.toString(), err: direct.stderr.toString() }, "with the template stopped");
  } finally {
    try {
      process.kill(template, "SIGCONT");
    } catch {
      // killed by the daemon for not answering
    }
  }
  await untilForked("probe.js", ["quiet"]);
  assert.notEqual(pool("probe.js")!.pids[0], template, "a new template");
  same(w.run([NODE, fixture("probe.js"), "quiet"]), direct, "from the new template");
});

test("a template that dies while a caller waits for its fork: that caller's command runs once, as directly", async () => {
  const count = join(w.dir, "count-dies");
  const args = [NODE, fixture("probe.js"), "quiet", "append", count, "out", "hi"];
  await untilForked("probe.js", ["quiet"]);
  const [template] = pool("probe.js")!.pids;
  process.kill(template, "SIGSTOP");
  try {
    // The ready child serves this run; the fork of its replacement waits in the stopped template.
    assert.deepEqual(w.run(args).stdout.toString(), "hi\n");
    const misses = pool("probe.js")!.misses;
    const waiting = w.runAsync(args);
    await w.until("the next caller to wait for the fork", () => pool("probe.js")!.misses > misses);
    process.kill(template, "SIGKILL");
    assert.deepEqual(await waiting, { code: 0, out: "hi\n", err: "" });
  } finally {
    try {
      process.kill(template, "SIGCONT");
    } catch {
      // gone
    }
  }
  assert.equal(readFileSync(count, "utf8"), "ran\nran\n", "each command ran exactly once");
});

test("a forked child killed during its run: its caller dies of that signal, as a direct run's would", async () => {
  await untilForked("probe.js", ["quiet"]);
  const [template] = pool("probe.js")!.pids;
  for (const signal of ["SIGKILL", "SIGTERM"] as const) {
    const run = w.start([NODE, fixture("probe.js"), "quiet", "pid", "hang"]);
    let out = "";
    const pid = new Promise<number>((resolve) =>
      run.stdout!.on("data", (d) => {
        out += d;
        const m = /^pid (\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      }),
    );
    const closed = new Promise<NodeJS.Signals | null>((resolve) => run.on("close", (_code, sig) => resolve(sig)));
    const tool = await pid;
    assert.equal(Number(readFileSync(`/proc/${tool}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]), template, "a child of the template runs it");
    process.kill(tool, signal);
    assert.equal(await closed, signal);
    assert.equal(out, `pid ${tool}\n`);
    await w.ready("probe.js");
  }
});

test("fork failing (EAGAIN under a process limit): each caller's command runs once, directly, and none hangs", async () => {
  // Its own tool: a pool whose forks keep failing stops trying.
  const tool = join(w.work, "eagain.js");
  writeFileSync(tool, 'require("fs").appendFileSync(process.argv[2], "ran\\n"); console.log("ok");\n');
  const count = join(w.dir, "count-eagain");
  await w.warmed("eagain.js", () => w.run([NODE, tool, join(w.dir, "count-learning")]));
  const [template] = pool("eagain.js")!.pids;
  // A soft RLIMIT_NPROC of 1 for the template alone: this user has more processes than that, so its fork() fails with EAGAIN.
  const limit = spawnSync("prlimit", ["--pid", String(template), "--nproc=1:"]);
  assert.equal(limit.status, 0, limit.stderr.toString());
  for (let i = 0; i < 5; i++) {
    const r = w.run([NODE, tool, count]);
    assert.deepEqual([r.status, r.stdout.toString(), r.stderr.toString()], [0, "ok\n", ""], `run ${i}`);
  }
  assert.equal(readFileSync(count, "utf8"), "ran\n".repeat(5), "each command ran exactly once");
  assert.ok(existsSync(`/proc/${template}`), "the template is still there");
});

test("a forked tool signalling its parent (its template) neither ends it nor opens a debugger in it: the template serves on", async () => {
  await untilForked("signal-parent.js", ["SIGWINCH"]); // ignored by default, by any parent
  const parents = new Set<number>();
  for (const signal of ["SIGTERM", "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGINT", "SIGQUIT", "SIGALRM"]) {
    const r = w.run(signalParent(signal), { direct: true });
    assert.equal(r.status, 0, `${signal}: ${r.stderr}`);
    const parent = Number(/^parent (\d+)\n$/.exec(r.stdout.toString())?.[1]);
    parents.add(parent);
    assert.ok(alive(parent), `${signal}: the template lives on`);
  }
  const [template] = parents;
  assert.equal(parents.size, 1, "one template served every run");
  assert.notEqual(template, w.status()!.pid, "the parent is a template, not the daemon");
  assert.deepEqual(listeningPorts(template), [], "the template listens on no TCP port (Node's inspector would, on 9229)");
});
