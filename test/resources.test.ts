// Every kind of warm process counts against the limits, and a test suite
// whose tests differ only in HOME and TMPDIR shares its warm processes
// instead of making a pool (a Python template) per test.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, NODE, PYTHON, WarmEnv } from "./helpers/warm-env";

const LIMIT = 4;

/** Every process below the daemon (warm processes, templates and their children), once those on their way out are gone. */
function below(daemon: number): number[] {
  const rows = spawnSync("ps", ["-e", "-o", "pid=,ppid=,stat="], { encoding: "utf8" }).stdout.trim().split("\n");
  const procs = rows.map((r) => r.trim().split(/\s+/)).filter(([, , stat]) => !stat.startsWith("Z")).map(([pid, ppid]) => [Number(pid), Number(ppid)]);
  const found = new Set([daemon]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of procs) if (found.has(ppid) && !found.has(pid)) grew = found.add(pid).size > 0;
  }
  found.delete(daemon);
  return [...found];
}

for (const [runtime, tool] of [["python", [PYTHON, fixture("python/suite_tool.py")]], ["node", [NODE, fixture("suite-tool.js")]]] as const) {
  test(`${runtime}: 20 tests, each with its own HOME and TMPDIR, share one warm pool, within the limit`, async () => {
    const w = new WarmEnv();
    try {
      w.writeConfig({ maxWarmProcesses: LIMIT });
      const keys = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const home = join(w.dir, `home-${i}`);
        const tmp = join(w.dir, `tmp-${i}`);
        mkdirSync(home);
        mkdirSync(tmp);
        const env = { ...w.env, HOME: home, TMPDIR: tmp };
        const r = w.run([...tool], { env });
        assert.equal(r.stderr.toString(), "");
        assert.equal(r.stdout.toString(), `${JSON.stringify([home, tmp])}\n`, `test ${i}`);
        await w.ready();
        const status = w.status()!;
        const pools = status.pools.filter((p) => p.script.endsWith(tool[1].split("/").pop()!));
        // The first runs learn what the tool loads (a new pool may follow); then one pool serves every test.
        if (i >= 2) keys.add(pools.map((p) => (runtime === "python" ? `${p.key} template ${p.pids[0]}` : p.key)).join());
        assert.ok(below(status.pid).length <= LIMIT, `warm processes: ${below(status.pid)}`);
      }
      assert.equal(keys.size, 1, `one pool and template for tests 3-20: ${[...keys]}`);
    } finally {
      await w.stop();
    }
  });
}

test("python templates count against maxWarmProcesses: idle ones give way to new tools", async () => {
  const w = new WarmEnv();
  try {
    w.writeConfig({ maxWarmProcesses: LIMIT });
    for (let i = 0; i < 6; i++) {
      const dir = join(w.dir, `tool-${i}`);
      mkdirSync(dir);
      const script = join(dir, "suite_tool.py");
      copyFileSync(fixture("python/suite_tool.py"), script);
      for (let run = 0; run < 2; run++) {
        const r = w.run([PYTHON, script]);
        assert.equal(r.status, 0, r.stderr.toString());
        const settled = () => w.status()!.pools.find((p) => p.script === script);
        await w.until(() => `the pool of ${script} to have a ready process: ${JSON.stringify(settled())}`, () => settled()?.ready === 1 && settled()?.starting === 0);
        const daemon = w.status()!.pid;
        await w.until(() => `at most ${LIMIT} warm processes: ${below(daemon)}`, () => below(daemon).length <= LIMIT);
      }
    }
    const s = w.status()!;
    assert.ok(s.pools.length < 6, `idle pools gave way: ${s.pools.length} left`);
  } finally {
    await w.stop();
  }
});

for (const [runtime, tool] of [["python", [PYTHON, fixture("home/tool.py")]], ["node", [NODE, fixture("home/tool.js")]]] as const) {
  test(`${runtime}: a tool whose modules read HOME and TMPDIR while loading is keyed on them: each test sees its own`, async () => {
    const w = new WarmEnv();
    try {
      let warmRuns = 0;
      for (let round = 0; round < 3; round++) {
        const before = w.status()?.runs ?? 0;
        for (let i = 0; i < 3; i++) {
          const env = { ...w.env, HOME: join(w.dir, `home-${i}`), TMPDIR: join(w.dir, `tmp-${i}`) };
          mkdirSync(env.HOME, { recursive: true });
          mkdirSync(env.TMPDIR, { recursive: true });
          const r = w.run([...tool], { env });
          assert.equal(r.stdout.toString(), `${JSON.stringify([env.HOME, env.TMPDIR])}\n`, `round ${round}, HOME ${i}: ${r.stderr}`);
          await w.ready();
        }
        warmRuns = w.status()!.runs - before;
      }
      assert.equal(warmRuns, 3, "once each HOME's warm processes are ready, its runs are warm");
    } finally {
      await w.stop();
    }
  });
}
