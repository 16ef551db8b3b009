// Preloading that is safe by construction, on probes and on the real
// tools that broke it (Debian's httpie, mypy, pytest, pylint, black,
// flake8; .ci/run installs them): each command's warm runs are byte for
// byte its direct run, over several consecutive warm runs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { venvWith } from "./helpers/python-venv";
import { Terminal } from "./helpers/terminal";
import { fixture, PYTHON, type Result, WARM, WarmEnv } from "./helpers/warm-env";
import { PreloadStore } from "../daemon/src/preload-store";
import { pythonToolId } from "../daemon/src/runtimes/python/runtime";

let w: WarmEnv;
let venv: { python: string; site: string };
before(() => {
  w = new WarmEnv();
  // Only installed code is preloaded: the probes' modules go into a virtualenv's site-packages.
  venv = venvWith(w.dir, "venv", []);
  cpSync(fixture("python/installed"), venv.site, { recursive: true });
});
after(async () => {
  await w.stop();
});

const WARM_RUNS = 5;
const LEARNING_RUNS = 2;

/**
 * Runs `args` directly, then through warm: every run identical to direct
 * after `normalise`. The first warm runs teach warm the tool (a run while
 * it learns may go direct: slower, never different); the WARM_RUNS after
 * them must all be warm.
 */
async function identical(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; normalise?: (s: string) => string } = {}): Promise<Result> {
  const norm = opts.normalise ?? ((s: string) => s);
  const fix = (r: Result): Result => ({ ...r, stdout: Buffer.from(norm(r.stdout.toString("latin1")), "latin1"), stderr: Buffer.from(norm(r.stderr.toString("latin1")), "latin1") });
  w.run(args, { ...opts, direct: true }); // caches the tool writes (mypy's, pylint's stats) exist for every run after
  const direct = fix(w.run(args, { ...opts, direct: true }));
  for (let i = 1; i <= LEARNING_RUNS + WARM_RUNS; i++) {
    if (i > 1) await settle(label(args));
    const before = w.status()?.runs ?? 0;
    same(fix(w.run(args, opts)), direct, `warm run ${i} of ${args.join(" ")}`);
    if (i > LEARNING_RUNS) assert.equal(w.status()!.runs - before, 1, `warm run ${i} of ${args.join(" ")} ran warm`);
  }
  return direct;
}

/** Waits until the pools labelled `tool...` have a ready process (none is fine: a pool dropped as it learned starts on the next run). */
function settle(tool: string): Promise<void> {
  const pools = () => w.status()?.pools.filter((p) => p.tool.startsWith(tool)) ?? [];
  return w.until(() => `a settled pool for ${tool}: ${JSON.stringify(pools())}`, () => pools().every((p) => p.starting === 0 && p.ready >= 1));
}

/** The pool label of a command (what `warm status` names it by). */
function label(args: string[]): string {
  if (args[1] === "-m") return `${args[2]} [`;
  return `${basename(args[0] === venv.python || args[0] === PYTHON ? args[1] : args[0])} [`;
}

function storeRecord(python: string, script: string): { modules: string[][]; dropped: Record<string, string> } | null {
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode: "script", target: script }))}.json`);
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function tool(t: { skip: (why: string) => void }, path: string): boolean {
  if (existsSync(path)) return true;
  t.skip(`${path} is not installed (.ci/run installs it from Debian)`);
  return false;
}

test("sys.argv kept while loading (default argument, closure, the object, a copy) is the caller's; a string made from it keeps the module out", async () => {
  const script = fixture("python/argv_tool.py");
  for (const args of [["one"], ["two", "--x"], [], ["a b", "ü"], ["3"], ["four", "five", "six"], ["7"]]) {
    const direct = w.run([venv.python, script, ...args], { direct: true });
    assert.equal(direct.status, 0, direct.stderr.toString());
    const r = w.run([venv.python, script, ...args]);
    assert.equal(r.stdout.toString(), direct.stdout.toString(), `argv ${JSON.stringify(args)}`);
    assert.equal(r.status, 0);
    await settle("argv_tool.py");
  }
  assert.match(w.run([venv.python, script, "x"]).stderr.toString(), /^preloaded/, "argv_keeper is preloaded");
  const why = () => storeRecord(venv.python, script)?.dropped.argv_joiner ?? "";
  await w.until(() => `argv_joiner to be recorded as dropped: ${why()}`, () => /from sys\.argv/.test(why()));
});

test("never stale: files a module read while loading with pathlib, io.open(PathLike), os.open and os.stat, a directory it listed; /dev/null is never watched", async () => {
  const script = fixture("python/data_tool.py");
  for (const f of "abcd") writeFileSync(join(venv.site, `data_${f}.txt`), `${f}1`);
  rmSync(join(venv.site, "data_e.txt"), { force: true });
  mkdirSync(join(venv.site, "data_plugins"), { recursive: true });
  writeFileSync(join(venv.site, "data_plugins", "one"), "");
  const run = () => w.run([venv.python, script]).stdout.toString();
  let out = "";
  for (let i = 0; i < 4 && !/ preloaded\n$/.test(out.replace("not preloaded", "")); i++) {
    out = run();
    await settle("data_tool.py");
  }
  assert.equal(out, "a1 b1 c1 d1 False one preloaded\n");
  // A device written anywhere (as every shell redirection to /dev/null does) drops nothing.
  const template = (w.status()!.pools.find((p) => p.script === script)?.pids ?? []).slice();
  spawnSync("sh", ["-c", "echo x > /dev/null; : > /dev/null"]);
  assert.equal(run(), "a1 b1 c1 d1 False one preloaded\n");
  await settle("data_tool.py");
  const now = w.status()!.pools.find((p) => p.script === script)?.pids ?? [];
  assert.ok(now.some((pid) => template.includes(pid)), `the template lives on: ${template} then ${now}`);
  let expected = ["a1", "b1", "c1", "d1", "False", "one"];
  for (const [i, f] of ["a", "b", "c", "d"].entries()) {
    writeFileSync(join(venv.site, `data_${f}.txt`), `${f}2${"x".repeat(i)}`);
    expected[i] = `${f}2${"x".repeat(i)}`;
    assert.equal(run().split(" preloaded")[0].replace(" not", ""), expected.join(" "), `after data_${f}.txt changed`);
    await settle("data_tool.py");
  }
  writeFileSync(join(venv.site, "data_e.txt"), "");
  expected = [...expected.slice(0, 4), "True", "one"];
  assert.equal(run().split(" preloaded")[0].replace(" not", ""), expected.join(" "), "after data_e.txt appeared");
  await settle("data_tool.py");
  writeFileSync(join(venv.site, "data_plugins", "two"), "");
  expected = [...expected.slice(0, 5), "one,two"];
  assert.equal(run().split(" preloaded")[0].replace(" not", ""), expected.join(" "), "after a file appeared in a directory listed while loading");
});

test("a module that reads the terminal's size while loading is not preloaded: at a terminal, the caller's size", async () => {
  const term = new Terminal(w.env, w.work, 97, 31);
  try {
    const cmd = (viaWarm: boolean) => `${viaWarm ? `"${WARM}" ` : ""}"${venv.python}" "${fixture("python/term_tool.py")}"`;
    term.line(cmd(false));
    const direct = (await term.expect(/SIZE [^\r\n]*/))[0];
    assert.match(direct, /\(97, 31\) \(97, 31\)/);
    for (let i = 0; i < 4; i++) {
      await settle("term_tool.py");
      term.line(cmd(true));
      assert.equal((await term.expect(/SIZE [^\r\n]*/))[0], direct, `warm run ${i + 1}`);
    }
    const why = () => storeRecord(venv.python, fixture("python/term_tool.py"))?.dropped.term_size ?? "";
    await w.until(() => `term_size to be recorded as dropped: ${why()}`, () => /terminal's size/.test(why()));
  } finally {
    term.close();
  }
});

test("a module whose preloading changed a run's exit status is excluded for that tool from then on", async () => {
  const script = fixture("python/pid_tool.py");
  const direct = w.run([venv.python, script], { direct: true });
  assert.equal(direct.status, 0);
  const statuses: (number | null)[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(w.run([venv.python, script]).status);
    await settle("pid_tool.py");
  }
  // Learned after the first run and preloaded by the next template, whose first run differs once; compared, then
  // excluded. That is the second run, or the third when the first template had forked the second's child ahead
  // before the first run reported what it loaded (a retired template's idle child still serves its caller).
  const differed = statuses.indexOf(3);
  assert.ok(differed === 1 || differed === 2, `statuses ${statuses}`);
  assert.deepEqual(statuses.filter((_, i) => i !== differed), [0, 0, 0, 0, 0], `statuses ${statuses}`);
  await w.until("the exclusion to be saved", () => /exit status/.test(storeRecord(venv.python, script)?.dropped.pid_check ?? ""));
});

test("httpie: a default argument bound to sys.argv (`def main(args=sys.argv)`) sees each caller's argv", async (t) => {
  if (!tool(t, "/usr/bin/http")) return;
  await identical(["/usr/bin/http", "--offline", "example.org", "a=1"]); // stdin is a pipe: httpie's own error, status 1
  await identical(["/usr/bin/http", "--ignore-stdin", "--offline", "example.org", "a=1", "X-Run:yes"]);
  await identical(["/usr/bin/http", "--ignore-stdin", "--offline", "--print=HBhb", "PUT", "example.org/x", "n:=3"]);
  await identical(["/usr/bin/http", "--version"]);
  await identical(["/usr/bin/http", "--ignore-stdin", "--offline", "--no-such-option"]);
});

test("mypy (compiled by mypyc): preloaded by import-graph roots, its circular imports load as directly", async (t) => {
  if (!tool(t, "/usr/bin/mypy")) return;
  const dir = join(w.work, "typed");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "good.py"), "def f(x: int) -> int:\n    return x\n");
  writeFileSync(join(dir, "bad.py"), 'def f(x: int) -> int:\n    return x\n\n\nf("a")\n');
  await identical(["/usr/bin/mypy", "--version"], { cwd: dir });
  await identical(["/usr/bin/mypy", "bad.py"], { cwd: dir });
  await identical(["/usr/bin/mypy", "good.py"], { cwd: dir });
  await identical(["/usr/bin/mypy", "--version"], { cwd: dir });
});

test("pytest: the project's modules, conftest and tests are never preloaded (assertion rewriting, side effects and import time per run)", async (t) => {
  if (!tool(t, "/usr/bin/pytest")) return;
  const dir = join(w.work, "pyproject");
  cpSync(fixture("python/pyproject"), dir, { recursive: true });
  const log = join(dir, "side.log");
  // The session's duration is the one field that legitimately differs.
  const normalise = (s: string) => s.replace(/ in \d+\.\d+s/g, " in N.NNs");
  const direct = await identical([PYTHON, "-m", "pytest", "-p", "no:cacheprovider"], { cwd: dir, normalise });
  assert.match(direct.stdout.toString(), /where 4 = add\(2, 2\)/, "assertion rewriting");
  await identical(["/usr/bin/pytest", "-p", "no:cacheprovider"], { cwd: dir, normalise, env: { ...w.env, PYTHONPATH: "." } });
  // 2 x (2 direct + 7 warm) runs: the project's module loaded once in each, after the run began.
  const lines = readFileSync(log, "utf8").trim().split("\n");
  assert.equal(lines.length, 18);
  assert.equal(new Set(lines.map((l) => l.split(" ")[0])).size, 18, "each in its own process");
  writeFileSync(log, "");
  for (let i = 0; i < 7; i++) {
    const started = Date.now() / 1000;
    w.run([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q"], { cwd: dir });
    const at = Number(readFileSync(log, "utf8").trim().split("\n")[i].split(" ")[1]);
    assert.ok(at >= started - 0.01, `run ${i + 1}: time.time() at import is the run's (${at} < ${started})`);
    await settle("pytest [");
  }
  assert.equal(readFileSync(log, "utf8").trim().split("\n").length, 7, "7 runs, 7 imports");
  const record = storeRecord(PYTHON, "/usr/bin/pytest");
  for (const [, m] of record?.modules ?? []) assert.ok(!/^(calc|conftest|test_calc|tests)/.test(m), `project module ${m} learned`);
});

test("pylint (dill opens /dev/null while importing), black and flake8 run warm and identical", async (t) => {
  if (!tool(t, "/usr/bin/pylint") || !tool(t, "/usr/bin/black") || !tool(t, "/usr/bin/flake8")) return;
  const dir = join(w.work, "lint");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "good.py"), '"""A module."""\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n    return a + b\n');
  writeFileSync(join(dir, "bad.py"), "import os\ndef f( x ):\n  return x\n");
  await identical(["/usr/bin/pylint", "bad.py"], { cwd: dir });
  spawnSync("sh", ["-c", "echo > /dev/null"]);
  await identical(["/usr/bin/pylint", "good.py"], { cwd: dir });
  await identical(["/usr/bin/black", "--check", "good.py"], { cwd: dir });
  await identical(["/usr/bin/black", "--diff", "bad.py"], { cwd: dir, normalise: (s) => s.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \+0000/g, "TIME") });
  await identical(["/usr/bin/flake8", "bad.py"], { cwd: dir });
  await identical(["/usr/bin/flake8", "good.py"], { cwd: dir });
  await identical(["/usr/bin/pylint", "--version"], { cwd: dir });
});
