// Whether a caller who finds no warm process ready waits for one that is
// starting: only if it is expected ready before the shim's limit (from how
// long the pool's last process took to start). Otherwise the wait would come
// on top of a direct run (corpus-findings T15: cspell, whose processes take
// seconds to preload, was slower through warm than directly, paced).
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

const NOT_SOON = "no warm process ready, and the one starting is not expected ready within the shim's time limit (it serves the next run)";

interface Status {
  runs: number;
  direct: number;
  running: number;
  directByReason: Record<string, number>;
  pools: { tool: string; ready: number; starting: number; startMs: number | null }[];
}

test("a caller runs directly at once rather than wait for a process not expected ready within the shim's limit, and waits for one that is", async () => {
  const gate = `/dev/shm/warm-slow-gate-${process.pid}`;
  const w = new WarmEnv({ WARM_SLOW_GUARD: "1", SLOW_GATE: gate });
  const cli = fixture("slow-start/cli.js");
  const status = (): Status => JSON.parse(w.run(["status", "--json"]).stdout.toString());
  const pool = () => status().pools.find((p) => p.tool.startsWith("cli.js"));
  const want = w.run([NODE, cli, "x"], { direct: true });
  const run = (timeoutMs: string) => {
    const r = w.run([NODE, cli, "x"], { env: { ...w.env, WARM_TIMEOUT_MS: timeoutMs } });
    assert.deepEqual([r.status, r.stdout.toString(), r.stderr.toString()], [want.status, want.stdout.toString(), want.stderr.toString()]);
  };
  try {
    // Pre-started processes (a forked child would be ready in a millisecond once its template is).
    w.writeConfig({ tools: { "cli.js": { mode: "spawn" } } });
    run("10000"); // learns what it loads
    await w.until(() => `a ready process that preloaded slow-lib.js; status: ${JSON.stringify(status())}`, () => {
      const p = pool();
      return !!p && p.ready === 1 && p.starting === 0 && (p.startMs ?? 0) >= 4000;
    }, 120_000);
    // From now on the pool's next process stays starting until the gate opens.
    writeFileSync(gate, "");
    const s0 = status();
    run("1500"); // a ready process: warm; its replacement starts (and waits at the gate)
    const s1 = status();
    assert.equal(s1.runs, s0.runs + 1, "a ready process served the run");
    assert.deepEqual([pool()?.ready, pool()?.starting], [0, 1], "the replacement is starting");

    // The shim's limit is 1.5 s and the process needs >= 4 s: the caller does not wait for it.
    run("1500");
    const s2 = status();
    assert.equal(s2.direct, s1.direct + 1, "ran directly");
    assert.equal(s2.directByReason[NOT_SOON], 1, `why it ran directly: ${JSON.stringify(s2.directByReason)}`);

    // With a limit of 60 s the same caller waits for it, and runs warm once it is ready.
    const waiting = w.runAsync([NODE, cli, "x"], { env: { ...w.env, WARM_TIMEOUT_MS: "60000" } });
    await w.until("the daemon to hold the waiting caller", () => status().running === 1);
    rmSync(gate);
    const r = await waiting;
    assert.deepEqual([r.code, r.out, r.err], [want.status, want.stdout.toString(), want.stderr.toString()]);
    const s3 = status();
    assert.deepEqual([s3.runs, s3.direct], [s2.runs + 1, s2.direct], "it waited and ran warm");
  } finally {
    rmSync(gate, { force: true });
    await w.stop();
  }
});
