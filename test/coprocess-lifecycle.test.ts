// A coprocess's life in the daemon: its pool goes after the idle timeout
// (a run in flight finishes first), the limits count each coprocess once,
// however many run slots of a fork-mode pool it serves, a fork-mode
// coprocess serves a caller while another's run is under way, and a Perl
// tool's quick_exit keeps what its documentation says.
import assert from "node:assert/strict";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { buildExamples, C_EXAMPLE, EXAMPLES, gated, missing, PY_EXAMPLE, sameWarm } from "./helpers/coprocess";
import { alive, fixture, PYTHON, WarmEnv } from "./helpers/warm-env";

before(() => buildExamples());

/** Pids of every coprocess of every pool (each once). */
function coprocessPids(w: WarmEnv): number[] {
  return [...new Set(w.status()!.pools.flatMap((p) => p.pids))];
}

/** A ready coprocess for cmd (its first run learns the names its hello declares: a pool of their key then starts). */
async function learn(w: WarmEnv, cmd: string[], env = w.env): Promise<void> {
  w.run(cmd, { env });
  w.run(cmd, { env });
  await w.ready();
}

test("idle timeout: fork and serial coprocesses go with their idle pools; the next run starts a new one", async () => {
  const w = new WarmEnv();
  try {
    // 1.8 s: the sweep runs every second.
    w.writeConfig({ pool: { idleTimeoutMinutes: 0.03 }, tools: { example: { coprocess: { mode: "fork" } }, "example-serial": { coprocess: { command: [C_EXAMPLE], mode: "serial" }, env: ["EX_SERIAL"] } } });
    const serial = join(w.dir, "example-serial");
    writeFileSync(serial, readFileSync(C_EXAMPLE), { mode: 0o755 });
    const serialEnv = { ...w.env, EX_SERIAL: "1" };
    await learn(w, [C_EXAMPLE]);
    await learn(w, [serial], serialEnv);
    sameWarm(w, [C_EXAMPLE, "x"]);
    sameWarm(w, [serial, "y"], { env: serialEnv });
    await w.ready();
    const pids = coprocessPids(w);
    assert.ok(pids.length >= 2, `a fork and a serial coprocess: ${JSON.stringify(w.status()!.pools)}`);
    await w.until("idle pools to go and their coprocesses to exit", () => w.status()!.pools.length === 0 && pids.every((p) => !alive(p)));
    // The next run is as directly (its pool starts again), and the daemon serves on.
    sameWarm(w, [C_EXAMPLE, "after"]);
  } finally {
    await w.stop();
  }
});

test("idle timeout: a run longer than the timeout finishes with its status and output; its coprocess goes after it", async () => {
  const w = new WarmEnv();
  try {
    w.writeConfig({ pool: { idleTimeoutMinutes: 0.03 }, tools: { example: { coprocess: { mode: "fork" } } } });
    await learn(w, [C_EXAMPLE]);
    const coprocess = coprocessPids(w)[0];
    const gate = join(w.dir, "gate");
    const run = gated(w, [C_EXAMPLE, "long"], { ...w.env, EX_GATE: gate, EX_EXIT: "5" });
    const pid = await run.pid;
    assert.notEqual(pid, run.child.pid, "the tool runs warm");
    await w.until("the idle pool to go while its run goes on", () => w.status()!.pools.length === 0);
    assert.ok(alive(coprocess) && alive(pid), "the coprocess and its running child are still there");
    writeFileSync(gate, "");
    const r = await run.done;
    assert.deepEqual([r.code, r.signal, r.err], [5, null, "to stderr\n"]);
    assert.match(r.out, /^pid \d+\nargc 2\narg long\n/);
    await w.until("the coprocess to exit once its run is over", () => !alive(coprocess));
  } finally {
    await w.stop();
  }
});

test("idle timeout mid-run (fork mode): the run's child is reaped (`wait`) before the retired coprocess's link closes", async () => {
  const w = new WarmEnv();
  try {
    const reaps = join(w.dir, "reaps.log");
    const tool = join(w.dir, "bad-logs-reaps");
    symlinkSync(fixture("coprocess/bad.py"), tool);
    w.writeConfig({ pool: { idleTimeoutMinutes: 0.03 }, tools: { "bad-logs-reaps": { coprocess: { command: [PYTHON, fixture("coprocess/bad.py"), "logs-reaps", reaps] } } } });
    const env = { ...w.env, BAD_LOG: join(w.dir, "runs.log") };
    await learn(w, [tool], env);
    const coprocess = coprocessPids(w)[0];
    const gate = join(w.dir, "gate");
    const run = gated(w, [tool, "long"], { ...env, BAD_GATE: gate });
    const pid = await run.pid;
    assert.notEqual(pid, run.child.pid, "the tool runs warm");
    await w.until("the idle pool to go while its run goes on", () => w.status()!.pools.length === 0);
    writeFileSync(gate, "");
    const r = await run.done;
    assert.deepEqual([r.code, r.out], [3, `pid ${pid}\nout long\n`]);
    await w.until("the coprocess to exit once its run is over", () => !alive(coprocess));
    const lines = readFileSync(reaps, "utf8").split("\n").filter(Boolean);
    assert.deepEqual(lines.slice(-2), [`wait ${pid} tell=False`, "eof unreaped=0"]);
  } finally {
    await w.stop();
  }
});

test("limits: a fork-mode coprocess serving a pool of 3 slots counts as one process, and its memory once", async () => {
  const w = new WarmEnv();
  try {
    await learn(w, [PY_EXAMPLE]);
    const [coprocess] = coprocessPids(w);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${coprocess}/status`, "utf8"))![1]);
    // Room for one coprocess (not two), and for two processes (not three).
    const maxMemoryMB = Math.ceil((rssKiB * 1.5) / 1024);
    w.writeConfig({ maxWarmProcesses: 2, maxMemoryMB, tools: { "example.py": { pool: { size: 3 } } } });
    sameWarm(w, [PY_EXAMPLE, "a"]); // the pool takes its new size
    await w.ready("example.py", 3);
    const pool = w.status()!.pools.find((p) => p.tool.startsWith("example.py"))!;
    assert.deepEqual([pool.ready, pool.limited, pool.pids.length], [3, false, 1], `${JSON.stringify(pool)}, coprocess RSS ${rssKiB} KiB, limit ${maxMemoryMB} MB`);
  } finally {
    await w.stop();
  }
});

for (const [name, example] of EXAMPLES.filter(([n]) => n !== "Go")) {
  test(`${name}: fork mode: a run under way does not hold up another caller's run`, { skip: missing(name) }, async () => {
    const w = new WarmEnv();
    try {
      w.writeConfig({ tools: { example: { coprocess: { mode: "fork" } } } }); // the C example is a binary: declared, as a binary must be
      await learn(w, [example]);
      const gate = join(w.dir, "gate");
      const held = gated(w, [example, "held"], { ...w.env, EX_GATE: gate });
      assert.notEqual(await held.pid, held.child.pid, "the held tool runs warm");
      await w.ready();
      const before = w.status()!.runs;
      const other = w.run([example, "other"], { timeout: 20_000 });
      assert.deepEqual([other.status, other.stderr.toString()], [0, "to stderr\n"], "the other run ended while the first was held");
      assert.equal(w.status()!.runs, before + 1, "it ran warm");
      writeFileSync(gate, "");
      assert.equal((await held.done).code, 0);
    } finally {
      await w.stop();
    }
  });
}

test("Perl quick_exit: a child skips global destruction only: END blocks, the status and handles left open are as directly", { skip: missing("Perl") }, async () => {
  const w = new WarmEnv();
  try {
    const tool = fixture("coprocess/quick.pl");
    const [directFile, warmFile] = [join(w.dir, "direct.txt"), join(w.dir, "warm.txt")];
    await learn(w, [tool, join(w.dir, "learn.txt"), "0"]);
    const direct = w.run([tool, directFile, "5"], { direct: true });
    const before = w.status()!.runs;
    const warm = w.run([tool, warmFile, "5"]);
    assert.equal(w.status()!.runs, before + 1, "it ran warm");
    assert.deepEqual([warm.status, warm.stdout.toString()], [direct.status, direct.stdout.toString()]);
    assert.equal(direct.stdout.toString(), "main\nEND sees status 5\n");
    assert.equal(readFileSync(warmFile, "utf8"), readFileSync(directFile, "utf8"));
    // The one difference quick_exit makes: DESTROY of what is alive at exit does not run.
    assert.deepEqual([direct.stderr.toString(), warm.stderr.toString()], ["DESTROY at global destruction\n", ""]);
  } finally {
    await w.stop();
  }
});

for (const mode of ["fork", "serial"] as const) {
  test(`${mode} mode: warm stop lets a running coprocess tool finish with its status; warm stop --now ends one, and its caller says so`, async () => {
    const w = new WarmEnv();
    try {
      // EX_SERIAL (set for serial mode) joins the key, so the coprocess starts with it.
      w.writeConfig({ tools: { example: { coprocess: { mode }, env: ["EX_SERIAL"] } } });
      const env = mode === "serial" ? { ...w.env, EX_SERIAL: "1" } : w.env;
      await learn(w, [C_EXAMPLE], env);
      const daemon = w.status()!.pid;
      const gate = join(w.dir, "gate");
      const finishing = gated(w, [C_EXAMPLE, "finishes"], { ...env, EX_GATE: gate, EX_EXIT: "4" });
      assert.notEqual(await finishing.pid, finishing.child.pid, "the tool runs warm");
      assert.equal(w.run(["stop"]).status, 0);
      writeFileSync(gate, "");
      const r = await finishing.done;
      assert.deepEqual([r.code, r.signal, r.err], [4, null, "to stderr\n"]);
      await w.until("the stopped daemon to exit after its last run", () => !alive(daemon));

      await learn(w, [C_EXAMPLE], env);
      const second = w.status()!.pid;
      const ended = gated(w, [C_EXAMPLE, "ended"], { ...env, EX_GATE: join(w.dir, "never") });
      const toolPid = await ended.pid;
      assert.equal(w.run(["stop", "--now"]).status, 0);
      const e = await ended.done;
      assert.deepEqual([e.code, e.signal, e.err], [255, null, `warm: the daemon was stopped (warm stop --now) while running ${C_EXAMPLE}\n`]);
      await w.until("the ended tool and the daemon to be gone", () => !alive(toolPid) && !alive(second));
    } finally {
      await w.stop();
    }
  });
}
