// A Python tool that profiles or traces its own run (cProfile, sys.settrace:
// coverage, pdb, a tool's --profile flag) sees what a direct run sees: no
// frame of warm's, and from then on the tool runs directly, since what a
// profiler measures includes the imports a template did before the run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { compare, same } from "./helpers/compare";
import { fixture, PYTHON, WarmEnv } from "./helpers/warm-env";
import { venvWith } from "./helpers/python-venv";
import { TRACES } from "../daemon/src/runtimes/python/runtime";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const directFor = (reason: string): number => (w.status() as unknown as { directByReason: Record<string, number> }).directByReason[reason] ?? 0;

/** A copy of the traced tool of its own (each test's is a tool warm learns apart); -B: no bytecode cache, so every run compiles its helper alike. */
function tool(name: string): string[] {
  const dir = join(w.work, name);
  cpSync(fixture("python/traced"), dir, { recursive: true });
  return [PYTHON, "-B", join(dir, "traced.py")];
}

for (const flag of ["--profile", "--trace"]) {
  test(`a run that sets a ${flag === "--profile" ? "profiler (cProfile)" : "tracer (sys.settrace)"} in a template sees no frame of warm's, and the tool runs directly from then on`, async () => {
    const command = tool(flag.slice(2));
    const direct = w.run([...command, flag], { direct: true });
    assert.equal(direct.status, 0, direct.stderr.toString());
    assert.match(direct.stdout.toString(), /traced_helper\.py/);
    // Runs without the flag until one is warm and the next waits ready: the traced run lands in a template.
    for (let i = 0; i < 3; i++) {
      same(w.run([...command, "x"]), w.run([...command, "x"], { direct: true }), `plain run ${i + 1}`);
      await w.ready();
    }
    const runs = w.status()!.runs;
    same(w.run([...command, flag]), direct, `the ${flag} run in a template`);
    assert.equal(w.status()!.runs - runs, 1, `the ${flag} run was warm`);
    const directBefore = directFor(TRACES);
    for (const args of [[flag], ["y"]]) same(w.run([...command, ...args]), w.run([...command, ...args], { direct: true }), `after it: ${args}`);
    assert.equal(w.status()!.runs - runs, 1, "no run of the tool was warm after it set a tracer");
    assert.equal(directFor(TRACES) - directBefore, 2, "both later runs went direct, for that reason");
  });
}

test("-m cProfile, -m trace and -m pdb run directly, unchanged", async () => {
  const [python, , script] = tool("by-module");
  await compare(w, [python, "-B", "-m", "cProfile", "-o", join(w.work, "stats.out"), script, "z"], { warm: false });
  await compare(w, [python, "-B", "-m", "trace", "--listfuncs", script, "z"], { warm: false });
  await compare(w, [python, "-B", "-m", "pdb", script, "z"], { warm: false, input: "continue\n" });
});

const COVERAGE = spawnSync(PYTHON, ["-c", "import coverage, os; print(os.path.dirname(coverage.__file__))"], { encoding: "utf8" }).stdout.trim();
const hasCoverage = COVERAGE !== "";

test("with COVERAGE_PROCESS_START set (coverage of subprocesses, begun by a .pth file), each run is measured as directly", { skip: !hasCoverage && "needs Debian's python3-coverage (.ci/run installs it)" }, async () => {
  const { python, site } = venvWith(w.dir, "venv-coverage", []);
  // coverage installed in the venv (Debian's, linked), and measuring subprocesses as its docs tell a user to.
  symlinkSync(COVERAGE, join(site, "coverage"));
  writeFileSync(join(site, "coverage-subprocesses.pth"), "import coverage; coverage.process_startup()\n");
  const data = join(w.work, "coverage-data");
  mkdirSync(data);
  const rc = join(data, ".coveragerc");
  writeFileSync(rc, `[run]\nparallel = true\ndata_file = ${join(data, "measured")}\n`);
  const [, , script] = tool("subprocess-coverage");
  await compare(w, [python, "-B", script, "x"], { env: { ...w.env, COVERAGE_PROCESS_START: rc }, warm: false });
  assert.equal(readdirSync(data).filter((f) => f.startsWith("measured.")).length, 3, "a data file from the direct run and from each of the two through warm");
});
