// A Python program run through the real shim and daemon is indistinguishable
// from running it with python: same stdout and stderr bytes, same status,
// and it sees the same argv, env, cwd, umask, stdio, flags and signals.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { compare as compareRuns, same } from "./helpers/compare";
import { alive, fixture, PYTHON, type Result, WARM, WarmEnv } from "./helpers/warm-env";
import { signalParent } from "./helpers/parent-signal";
import { VECTORS_FILE } from "./helpers/vectors";
import { venvWith as venvWithIn } from "./helpers/python-venv";
import { PreloadStore } from "../daemon/src/preload-store";
import { pythonToolId } from "../daemon/src/runtimes/python/runtime";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const PROBE = fixture("python/probe.py");

const venvWith = (name: string, modules: string[]) => venvWithIn(w.dir, name, modules);

/** A command, directly and through warm (see helpers/compare.ts). */
const compare = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; warm?: boolean } = {}): Promise<Result> => compareRuns(w, args, opts);

test("the Python codec passes the shared protocol vectors", () => {
  const r = spawnSync(PYTHON, [join(__dirname, "helpers", "py_vectors.py"), VECTORS_FILE], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length >= 20, r.stdout);
});

test("a script sees the argv, orig_argv, executable, sys.path, env, cwd, umask, stdio and signals of a direct run", async () => {
  const direct = await compare([PYTHON, PROBE, "a b", "", "--flag", "ünï"]);
  const report = JSON.parse(direct.stdout.toString().split("\n")[0]);
  assert.equal(Buffer.from(report.argv[1], "hex").toString(), "a b");
  assert.equal(report.main_file, PROBE);
  assert.equal(report.signals[2], "<built-in function default_int_handler>");
});

test("non-UTF-8 and empty argv bytes decode as CPython decodes its own argv (surrogateescape)", async () => {
  const args = (prefix: string) => ["sh", "-c", `exec ${prefix} "$0" "$1" "$(printf 'x\\377y')" ""`, PYTHON, PROBE];
  const direct = w.run(args(""), { direct: true });
  assert.equal(direct.status, 0, direct.stderr.toString());
  assert.match(direct.stdout.toString(), /"78ff79", ""/);
  for (let i = 0; i < 2; i++) {
    same(w.run(args(`"${WARM}"`), { direct: true }), direct, "raw argv");
    await w.ready();
  }
});

test("python3 found on PATH, a relative script, and the caller's cwd, umask and env", async () => {
  const bin = join(w.dir, "pybin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(PYTHON, join(bin, "python3"));
  copyFileSync(PROBE, join(w.work, "here.py"));
  for (const f of ["report.py", "act.py"]) copyFileSync(fixture(`python/${f}`), join(w.work, f));
  const env = { ...w.env, PATH: `${bin}:/usr/bin:/bin`, SOME_VAR: "x=y", EMPTY: "" };
  const umask = (prefix: string[]) => ["sh", "-c", 'umask 077; exec "$@"', "sh", ...prefix, "python3", "here.py", "1"];
  const direct = w.run(umask([]), { direct: true, env });
  for (let i = 0; i < 2; i++) {
    same(w.run(umask([WARM]), { direct: true, env }), direct, "umask 077");
    await w.ready();
  }
  await compare(["python3", "./here.py"], { env });
});

test("-m module and -c code run as CPython runs them", async () => {
  const cwd = join(__dirname, "fixtures", "python");
  await compare([PYTHON, "-m", "probe_mod", "x", "y"], { cwd });
  await compare([PYTHON, "-c", "import report, sys; print(report.report()); print(sys.argv)", "arg1", "arg2"], { cwd });
  await compare([PYTHON, "-m", "no_such_module_here"], { cwd });
  await compare([PYTHON, "-c", "raise SystemExit('from -c')"], { cwd });
  await compare([PYTHON, "-c", "def f(:"], { cwd });
});

test("-m of a module that its package's other modules import too (as rich's do): runpy starts it with it not yet imported, as directly", async () => {
  const { python, site } = venvWith("venv-runm", []);
  cpSync(fixture("python/runm"), join(site, "runm"), { recursive: true });
  const direct = w.run([python, "-m", "runm.main"], { direct: true });
  assert.equal(direct.stdout.toString(), "main runs, helper\n");
  for (let i = 0; i < 5; i++) {
    same(w.run([python, "-m", "runm.main"]), direct, `run ${i + 1}`);
    await w.until(`run ${i + 1}: the pool settles`, () => w.status()!.pools.every((p) => p.starting === 0));
  }
  // -m of a package runs its __main__: the package itself is imported before it, as any import, and preloaded.
  const pkg = w.run([python, "-m", "runm"], { direct: true });
  assert.equal(pkg.stdout.toString(), "package runs, helper\n");
  for (let i = 1; i <= 5; i++) {
    const runs = w.status()!.runs;
    same(w.run([python, "-m", "runm"]), pkg, `package run ${i}`);
    if (i > 2) assert.equal(w.status()!.runs - runs, 1, `package run ${i} ran warm`);
    await w.until(`package run ${i}: the pool settles`, () => w.status()!.pools.every((p) => p.starting === 0 && p.ready >= 1));
  }
  await w.until("what the runs taught to be saved", () => w.status()!.unsavedLearning === 0);
  const record = learnedRecord(python, "module", "runm");
  assert.ok(record.modules.some(([, m]) => m === "runm.helper"), JSON.stringify(record));
  assert.deepEqual(record.dropped, {}, "nothing dropped: the package is not the module runpy runs");
});

test("interpreter flags and PYTHON* variables: -u, -B, -E, -s, -O, -W, -X utf8, PYTHONIOENCODING, PYTHONUNBUFFERED", async () => {
  await compare([PYTHON, "-u", "-B", PROBE]);
  await compare([PYTHON, "-Es", "-O", PROBE]);
  await compare([PYTHON, "-W", "error::DeprecationWarning", "-Xutf8", PROBE]);
  await compare([PYTHON, PROBE], { env: { ...w.env, PYTHONIOENCODING: "latin-1:replace", PYTHONUNBUFFERED: "1" } });
  await compare([PYTHON, PROBE], { env: { ...w.env, LANG: "C", LC_ALL: "C" } });
});

test("console scripts run by their shebang, through PATH, by a relative path and through a multi-call symlink", async () => {
  const bin = join(w.dir, "tools");
  mkdirSync(bin, { recursive: true });
  for (const f of ["py-tool", "report.py", "act.py"]) copyFileSync(fixture(`python/${f}`), join(bin, f));
  spawnSync("chmod", ["+x", join(bin, "py-tool")]);
  const links = join(w.dir, "links");
  mkdirSync(links, { recursive: true });
  symlinkSync(WARM, join(links, "py-tool"));
  const env = { ...w.env, PATH: `${bin}:/usr/bin:/bin` };
  await compare(["py-tool", "one", "two"], { env });
  // The kernel gives the interpreter the script's path as it was executed: sys.argv[0] is "./py-tool".
  await compare(["./py-tool", "three"], { env, cwd: bin });
  const linkEnv = { ...env, PATH: `${links}:${bin}:/usr/bin:/bin` };
  const direct = w.run([join(bin, "py-tool"), "one", "two"], { direct: true, env: linkEnv });
  for (let i = 0; i < 2; i++) {
    same(w.run([join(links, "py-tool"), "one", "two"], { direct: true, env: linkEnv }), direct, "multi-call symlink");
    await w.ready();
  }
});

test("exit: SystemExit with None, ints and objects, uncaught exceptions, atexit, flushing, files left open, objects that fail when asked their class", async () => {
  await compare([PYTHON, PROBE, "exit:none"]);
  await compare([PYTHON, PROBE, "exit:3"]);
  await compare([PYTHON, PROBE, "exit:256"]);
  await compare([PYTHON, PROBE, "exit:-1"]);
  await compare([PYTHON, PROBE, "exit:a message"]);
  await compare([PYTHON, PROBE, "exitobj:x"]);
  await compare([PYTHON, PROBE, "atexit:first", "atexit:second", "raise:boom"]);
  await compare([PYTHON, PROBE, "atexit-raise", "exit:4"]);
  await compare([PYTHON, PROBE, "partial"]);
  await compare([PYTHON, PROBE, "stderr:x", "os-exit:7"]);
  await compare([PYTHON, PROBE, "thread"]);
  // An object that runs code when asked its class (Django's settings), and one such in sys.modules: the status is the tool's.
  await compare([PYTHON, PROBE, "lazy"]);
  await compare([PYTHON, PROBE, "lazy", "exit:3"]);
  const file = join(w.work, "left-open.txt");
  const direct = w.run([PYTHON, PROBE, `leave-open:${file}`], { direct: true });
  const directFile = readFileSync(file, "utf8");
  writeFileSync(file, "");
  for (let i = 0; i < 2; i++) {
    same(w.run([PYTHON, PROBE, `leave-open:${file}`]), direct, "file left open");
    assert.equal(readFileSync(file, "utf8"), directFile);
    await w.ready();
  }
});

test("signals: KeyboardInterrupt ends the process by SIGINT, a signal death is reported as one", async () => {
  const direct = await compare([PYTHON, PROBE, "kbint"]);
  assert.equal(direct.signal, "SIGINT");
  assert.match(direct.stderr.toString(), /KeyboardInterrupt/);
  const killed = await compare([PYTHON, PROBE, "kill-self:15"]);
  assert.equal(killed.signal, "SIGTERM");
  // SIGPIPE is ignored as CPython sets it: writing to a closed pipe raises BrokenPipeError.
  const cmd = (prefix: string) => ["sh", "-c", `${prefix} ${PYTHON} -c 'import sys\nfor i in range(100000): print(i)' | head -1; echo "status \${PIPESTATUS:-}"`];
  same(w.run(cmd(`"${WARM}"`), { direct: true }), w.run(cmd(""), { direct: true }), "broken pipe");
});

test("^C at the shim reaches the tool: traceback, then death by SIGINT", async () => {
  for (const viaWarm of [false, true, true]) {
    if (viaWarm) await w.ready();
    const child = w.start([PYTHON, PROBE, "sleep:30"], { direct: !viaWarm, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    await w.until("the tool to start sleeping", () => out.includes("sleeping"));
    child.kill("SIGINT");
    const signal = await new Promise((resolve) => child.on("close", (_code, sig) => resolve(sig)));
    assert.equal(signal, "SIGINT", `${viaWarm ? "warm" : "direct"}: ${err}`);
    assert.match(err, /KeyboardInterrupt\n$/);
  }
});

test("the C locale: CPython's coercion to C.UTF-8 (PEP 538) reaches the run's environment and its children, as directly", async () => {
  const code = `import locale, os, subprocess; print(os.environ.get("LC_CTYPE"), locale.setlocale(locale.LC_ALL, ""), subprocess.run("printf '\\303\\251t\\303\\251' | wc -m", shell=True, capture_output=True, text=True).stdout.strip(), list(os.environ)[-1])`;
  const bare = Object.fromEntries(Object.entries(w.env).filter(([k]) => k !== "LANG" && k !== "LANGUAGE" && !k.startsWith("LC_")));
  const seen: string[] = [];
  for (const locales of [{}, { LANG: "C" }, { LC_CTYPE: "" }, { LC_ALL: "C" }, { LANG: "C", PYTHONCOERCECLOCALE: "0" }]) {
    const direct = await compare([PYTHON, "-c", code], { env: { ...bare, ...locales } });
    seen.push(direct.stdout.toString().trim());
  }
  // Coerced (LC_CTYPE set, 3 characters counted) where CPython coerces; not under LC_ALL or PYTHONCOERCECLOCALE=0.
  assert.deepEqual(seen.map((l) => l.split(" ").slice(0, 1).join(" ")), ["C.UTF-8", "C.UTF-8", "C.UTF-8", "None", "None"]);
});

test("stdin piped in reaches the tool", async () => {
  await compare([PYTHON, PROBE, "echo-stdin"], { input: "line one\nline two\n\u00ff" });
});

test("every child is fresh: random is reseeded, state never carries over", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    await w.ready();
    const r = w.run([PYTHON, PROBE, "random"]);
    const line = r.stdout.toString().split("\n").find((l) => l.startsWith("random "));
    assert.ok(line, r.stderr.toString());
    seen.add(line);
  }
  assert.equal(seen.size, 4);
});

test("a preloaded module that puts its own stream in place of sys.stdout or sys.stderr (colorama's init(), a re-encoding wrapper): each run writes through it, as directly", async () => {
  const dir = join(w.work, "wrapped");
  mkdirSync(dir, { recursive: true });
  copyFileSync(fixture("python/wrapped_tool.py"), join(dir, "wrapped_tool.py"));
  const { python } = venvWith("venv-wrapped", ["stdout_wrappers.py"]);
  const cmd = [python, join(dir, "wrapped_tool.py")];
  const direct = w.run(cmd, { direct: true });
  assert.equal(direct.stdout.toString("latin1"), "\xe9t\xe9 TextIOWrapper\n");
  assert.equal(direct.stderr.toString(), "red Strip\npreloaded False\n");
  let preloaded = false;
  for (let i = 0; i < 6 && !preloaded; i++) {
    if (i > 0) await w.ready();
    const r = w.run(cmd);
    preloaded = r.stderr.toString().endsWith("preloaded True\n");
    same({ ...r, stderr: Buffer.from(r.stderr.toString().replace("preloaded True", "preloaded False")) }, direct, `warm run ${i + 1}`);
  }
  assert.ok(preloaded, "a run found the module preloaded");
});

test("preloading is learned: later runs find the tool's modules loaded, keyed on what they read while loading", async () => {
  const dir = join(w.work, "learn");
  mkdirSync(dir, { recursive: true });
  copyFileSync(fixture("python/learner.py"), join(dir, "learner.py"));
  const { python, site } = venvWith("venv-learn", ["learner_dep.py"]);
  const script = join(dir, "learner.py");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => w.run([python, script, ...args], { env: { ...w.env, ...env } });
  const direct = w.run([python, script, "x"], { direct: true });
  assert.match(direct.stdout.toString(), /preloaded: \[\]\n/);
  let preloaded = "";
  for (let i = 0; i < 6 && !preloaded.includes("learner_dep"); i++) {
    await w.ready();
    const r = run(["x"]);
    assert.equal(r.stdout.toString().split("\n")[1], direct.stdout.toString().split("\n")[1], r.stderr.toString());
    preloaded = r.stdout.toString().split("\n")[0];
  }
  assert.equal(preloaded, "preloaded: ['email.parser', 'json', 'learner_dep']");
  // The dep read LEARNER_MODE, copied sys.argv and read the umask while loading: each caller gets its own.
  await w.ready();
  const other = w.run(["sh", "-c", `umask 077; exec "${WARM}" "${python}" "${script}" other 'ar g'`], { direct: true, env: { ...w.env, LEARNER_MODE: "two" } });
  const otherDirect = w.run(["sh", "-c", `umask 077; exec "${python}" "${script}" other 'ar g'`], { direct: true, env: { ...w.env, LEARNER_MODE: "two" } });
  assert.equal(other.stdout.toString().split("\n")[1], otherDirect.stdout.toString().split("\n")[1]);
  // What was learned is saved in the state dir (batched, a moment after the runs).
  const saved = () =>
    (existsSync(join(w.stateDir, "preload")) ? readdirSync(join(w.stateDir, "preload")) : [])
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(w.stateDir, "preload", f), "utf8")))
      .find((r) => r.modules.some((m: string[]) => m[1] === "learner_dep") && r.usesUmask);
  await w.until("the learned record to be saved", () => saved() !== undefined);
  const record = saved();
  assert.ok(record.envNames.includes("LEARNER_MODE"));
  assert.equal(record.usesUmask, true);
  // Never stale: an edit to the preloaded dep shows at once.
  await w.ready();
  writeFileSync(join(site, "learner_dep.py"), readFileSync(join(site, "learner_dep.py"), "utf8").replace('VALUE = "one"', 'VALUE = "second"'));
  // (A different size: CPython itself reuses a .pyc whose source kept its size and mtime second.)
  assert.match(run(["x"]).stdout.toString(), /dep: second /);
  assert.equal(run(["x"], { LEARNER_MODE: "three" }).stdout.toString().split("\n")[1].split(" ")[2], "three");
});

test("a module's copy of the cwd (multiprocessing's ORIGINAL_DIR) is each caller's, and the cwd stays out of the key", async () => {
  const dir = join(w.work, "mp");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "mp_tool.py");
  copyFileSync(fixture("python/mp_tool.py"), script);
  const cwds = ["one", "two", "three"].map((d) => join(w.work, `mp-cwd-${d}`));
  for (const cwd of cwds) mkdirSync(cwd);
  let preloaded = false;
  for (let i = 0; i < 6 && !preloaded; i++) {
    preloaded = w.run([PYTHON, script], { cwd: cwds[0] }).stdout.toString().startsWith("preloaded: True\n");
    await w.ready();
  }
  assert.ok(preloaded, "multiprocessing is learned and preloaded");
  for (const cwd of cwds) {
    await w.ready();
    const direct = w.run([PYTHON, script], { cwd, direct: true }).stdout.toString();
    const warm = w.run([PYTHON, script], { cwd }).stdout.toString();
    assert.equal(warm, direct.replace("preloaded: False", "preloaded: True"), `from ${cwd}`);
  }
  const pools = w.status()!.pools.filter((p) => p.script === realpathSync(script));
  assert.equal(pools.length, 1, "one template serves every cwd");
});

test("a virtualenv's python: sys.prefix and sys.executable as a direct run (the interpreter path is in the key)", async () => {
  const venv = join(w.dir, "venv");
  const made = spawnSync(PYTHON, ["-m", "venv", "--without-pip", venv], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const direct = await compare([join(venv, "bin", "python3"), PROBE]);
  assert.equal(JSON.parse(direct.stdout.toString().split("\n")[0]).prefix[0], venv);
  await compare([PYTHON, PROBE]); // the system python's pool is another one
});

test("config: preload adds modules, exclude keeps learned ones out; a module that stops importing is dropped", async () => {
  const dir = join(w.work, "configured");
  mkdirSync(dir, { recursive: true });
  copyFileSync(fixture("python/learner.py"), join(dir, "learner.py"));
  const { python, site } = venvWith("venv-config", ["learner_dep.py"]);
  const script = join(dir, "learner.py");
  w.writeConfig({ tools: { "learner.py": { exclude: ["learner_dep"], preload: ["colorsys"] } } });
  for (let i = 0; i < 4; i++) {
    w.run([python, script, "x"]);
    await w.ready();
  }
  const seen = w.run([python, "-c", "import sys; print('colorsys' in sys.modules)"], { direct: true });
  assert.equal(seen.stdout.toString(), "False\n");
  const r = w.run([python, script, "x"]);
  assert.equal(r.stdout.toString().split("\n")[0], "preloaded: ['email.parser', 'json']", r.stderr.toString());
  // Without the config the dep is learned; then it stops importing: the run fails as a direct one does, and warm drops it.
  w.writeConfig({});
  for (let i = 0; i < 4; i++) {
    w.run([python, script, "x"]);
    await w.ready();
  }
  assert.match(w.run([python, script, "x"]).stdout.toString(), /'learner_dep'/);
  writeFileSync(join(site, "learner_dep.py"), "raise ImportError('learner_dep is broken now')\n");
  const direct = w.run([python, script, "x"], { direct: true });
  assert.equal(direct.status, 1);
  for (let i = 0; i < 3; i++) {
    // (stdout's first line says what was preloaded, which differs by design)
    const r = w.run([python, script, "x"]);
    assert.equal(r.stderr.toString(), direct.stderr.toString(), "a preloaded module that no longer imports: stderr");
    assert.equal(r.status, 1);
    await w.ready();
  }
  const learned = () => learnedRecord(python, "script", script);
  // Not preloaded from then on (until its file changes), and not learned again from each run.
  await w.until("the broken module to be dropped", () => learned().modules.some((m) => m[1] === "json") && /^failed to load/.test(learned().dropped.learner_dep ?? ""));
});

test("a module that starts a thread while loading is kept out of preloading (a template forks single-threaded)", async () => {
  const dir = join(w.work, "threaded");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "threaded.py");
  copyFileSync(fixture("python/threaded.py"), script);
  const { python } = venvWith("venv-thread", ["threaded_dep.py"]);
  const direct = w.run([python, script], { direct: true });
  for (let i = 0; i < 4; i++) {
    same(w.run([python, script]), direct, `run ${i}`);
    await w.ready();
  }
  await w.until("the thread-starting module to be recorded as dropped", () => {
    try {
      return /thread/.test(learnedRecord(python, "script", script).dropped.threaded_dep ?? "");
    } catch {
      return false;
    }
  });
});

test("what warm cannot stand in for runs directly, unchanged: a missing script, stdin as the script, -i", async () => {
  const missing = await compare([PYTHON, "no-such-script.py"], { warm: false });
  assert.match(missing.stderr.toString(), /can't open file/);
  await compare([PYTHON, "-"], { input: "print('from stdin')\n", warm: false });
  await compare([PYTHON], { input: "print('no script at all')\n", warm: false });
  await compare([PYTHON, "-i", "-c", "print('then interactive')"], { input: "print('typed')\n", warm: false });
});

/** What the daemon saved of a Python tool (its preload record): throws while there is none. */
function learnedRecord(python: string, mode: "script" | "module", target: string): { modules: string[][]; dropped: Record<string, string> } {
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode, target }))}.json`);
  return JSON.parse(readFileSync(file, "utf8"));
}

test("a tool signalling its parent (its template) does not end it: the template serves on, and each child has Python's own dispositions", async () => {
  // SIGWINCH is ignored by default, by any parent.
  const dispositionsIn = (r: Result) => /^dispositions: .*$/m.exec(r.stdout.toString())?.[0];
  const direct = w.run([PYTHON, fixture("python/signal_parent.py"), "SIGWINCH"], { direct: true });
  const dispositions = dispositionsIn(direct);
  assert.ok(dispositions, direct.stderr.toString());
  w.run(signalParent("SIGWINCH", "python"), { direct: true });
  const parents = new Set<number>();
  for (const signal of ["SIGTERM", "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGINT", "SIGQUIT", "SIGALRM"]) {
    await w.ready();
    const r = w.run(signalParent(signal, "python"), { direct: true });
    assert.equal(r.status, 0, `${signal}: ${r.stderr}`);
    const parent = Number(/^parent (\d+)\n/.exec(r.stdout.toString())?.[1]);
    parents.add(parent);
    assert.ok(alive(parent), `${signal}: the template lives on`);
    assert.equal(dispositionsIn(r), dispositions, signal);
  }
  assert.equal(parents.size, 1, "one template served every run");
  assert.notEqual([...parents][0], w.status()!.pid, "the parent is a template, not the daemon");
});
