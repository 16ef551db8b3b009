// Learning a Python tool's preloading converges: a module that many roots
// import, and that does at its first import what a template must not (as
// ansible's Display() reconfigures sys.stdout, or its constants module makes
// a temp directory), costs one template, not one per root; and a pool stops
// only when nothing is being learned.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { preloadRecord, savedRecord } from "./helpers/tool-tree";
import { WarmEnv } from "./helpers/warm-env";
import { venvWithPackage } from "./helpers/python-venv";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

test("a module every root imports, which a template must not run, is learned in two templates and the tool runs warm", async () => {
  const { python, script, cwd: dir } = venvWithPackage(w.dir, w.work, "chain", "chain_cli.py");
  const direct = w.run([python, script], { direct: true });
  assert.equal(direct.stdout.toString(), "preloaded: []\nloaded: abcdefgh\n");
  // Each run waits for the pool to settle first, so each template's verdict is in before the next run.
  for (let i = 0; i < 8; i++) {
    const r = w.run([python, script], { cwd: dir });
    same(r, direct, `run ${i}`);
    await w.until(`run ${i}: the pool settles`, () => w.status()!.pools.every((p) => p.starting === 0));
  }
  const pool = w.status()!.pools.find((p) => p.tool.startsWith("chain_cli.py"))!;
  assert.ok(pool.hits > 0 && !pool.broken, `the tool runs warm: ${JSON.stringify(pool)}`);
  // Templates not usable: the first preloaded every root and dropped all eight (each imports display first, once
  // the root before it is taken back); at most one more to settle. Not one per root.
  const log = readFileSync(join(w.stateDir, "daemon.log"), "utf8");
  const unusable = log.split("\n").filter((l) => l.includes("python template not usable")).length;
  assert.ok(unusable <= 2, `${unusable} templates not usable:\n${log}`);
});

test("a root that fails to load is not tried again, and one that failed only because another was taken back is: learning settles in a few runs", async () => {
  // Its own daemon, logging at debug level: each template let go is a line ("template retired").
  const d = new WarmEnv({ WARM_LOG_LEVEL: "debug" });
  try {
    const { python, site, script, cwd: dir } = venvWithPackage(d.dir, d.work, "taint", "taint_cli.py");
    const direct = d.run([python, script], { direct: true });
    assert.equal(direct.stdout.toString(), "loaded: base spawner user late\nset by the script\n");
    const runs = 8;
    for (let i = 0; i < runs; i++) {
      same(d.run([python, script], { cwd: dir }), direct, `run ${i}`);
      await d.until(`run ${i}: the pool settles`, () => d.status()!.pools.every((p) => p.starting === 0));
    }
    const record = () => preloadRecord(d.stateDir, "taint.base");
    // The first template preloads nothing and learns the roots; the second drops spawner (a process), remembers that
    // late failed, and keeps user (it failed only on what spawner's taken-back import left); the third is used from
    // then on. Before, every failure was forgotten and learned again from the next run: a new template per run.
    const rec = await savedRecord(d, "taint.base");
    assert.match(rec.dropped["taint.spawner"], /started a process/);
    assert.match(rec.dropped["taint.late"], /^failed to load: AttributeError/);
    assert.equal(rec.dropped["taint.user"], undefined, "user is preloaded once spawner is not");
    assert.ok(rec.modules.some(([, m]) => m === "taint.user"), "user stays learned");
    const retired = () => readFileSync(join(d.stateDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes('"template retired"')).length;
    const pool = d.status()!.pools.find((p) => p.tool.startsWith("taint_cli.py"))!;
    assert.ok(pool.hits >= runs - 2 && !pool.broken, `the tool runs warm after two templates: ${JSON.stringify(pool)}`);
    assert.ok(retired() <= 3, `${retired()} templates let go in ${runs} runs`);
    // Its file changed: late is tried again, and now loads in a template.
    writeFileSync(join(site, "taint", "late.py"), 'SETTING = "set by the script"\nNAME = "late"\n');
    const again = d.run([python, script], { direct: true });
    assert.equal(again.stdout.toString(), direct.stdout.toString());
    await d.until("late is no longer dropped", () => record()?.dropped["taint.late"] === undefined);
    for (let i = 0; i < 3; i++) {
      same(d.run([python, script], { cwd: dir }), again, `after the edit, run ${i}`);
      await d.until(`after the edit, run ${i}: the pool settles`, () => d.status()!.pools.every((p) => p.starting === 0));
    }
    assert.equal(record()!.dropped["taint.late"], undefined, "late loads in a template now");
  } finally {
    await d.stop();
  }
});

test("a tool whose templates keep coming up unusable runs directly after three, says why, and tries again once its files change", async () => {
  const d = new WarmEnv();
  try {
    const { python, site, script, cwd: dir } = venvWithPackage(d.dir, d.work, "restless", "restless_cli.py");
    const direct = d.run([python, script], { direct: true });
    assert.equal(direct.stdout.toString(), "loaded: t1 t2 t3 t4 t5 t6\n");
    const reasons = () => (d.status() as unknown as { directByReason: Record<string, number> }).directByReason;
    const GAVE_UP = "warm could not learn to preload this tool safely in 3 templates; it runs directly until its files change";
    // The first run learns the six roots; then each template stops at the next one (a thread) and is not usable.
    for (let i = 0; i < 4; i++) {
      same(d.run([python, script], { cwd: dir }), direct, `run ${i}`);
      await d.until(`run ${i}: the pool settles`, () => d.status()!.pools.every((p) => p.starting === 0));
    }
    const log = () => readFileSync(join(d.stateDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes("python template not usable")).length;
    assert.equal(log(), 3, "three templates not usable, then no more");
    assert.ok((reasons()[GAVE_UP] ?? 0) > 0, `direct runs by reason: ${JSON.stringify(reasons())}`);
    const traced = d.run([python, script], { cwd: dir, env: { ...d.env, WARM_DEBUG: "1" } });
    assert.equal(traced.stdout.toString(), direct.stdout.toString());
    assert.equal(traced.status, direct.status);
    assert.ok(traced.stderr.toString().includes(`daemon says direct: ${GAVE_UP}`), traced.stderr.toString());
    // A file of the tool changed: it gets its tries again (a template starts, and learns the next root).
    writeFileSync(join(site, "restless", "__init__.py"), "# edited\n");
    const before = reasons()[GAVE_UP];
    same(d.run([python, script], { cwd: dir }), direct, "after the edit");
    assert.equal(reasons()[GAVE_UP], before, "not sent direct for having given up");
    await d.until("a template is tried again", () => log() > 3);
  } finally {
    await d.stop();
  }
});

test("a module that sets a variable while loading (awscli's AWS_DATA_PATH) is not preloaded: each run sets it, as directly; one that writes a value back unchanged is", async () => {
  const { python, script, cwd: dir } = venvWithPackage(w.dir, w.work, "envset", "envset_cli.py");
  const env = { ...w.env, ENVSET_SAME: "kept" };
  const direct = w.run([python, script], { direct: true, env });
  assert.equal(direct.stdout.toString(), "/envset/data kept\n");
  let seen = "";
  for (let i = 0; i < 6; i++) {
    const r = w.run([python, script], { cwd: dir, env });
    assert.equal(r.stdout.toString(), direct.stdout.toString(), `run ${i}: ${r.stderr}`);
    assert.equal(r.status, direct.status);
    seen = r.stderr.toString();
    await w.until(`run ${i}: the pool settles`, () => w.status()!.pools.every((p) => p.starting === 0));
  }
  assert.equal(seen, "preloaded: ['envset.same']\n", "the last run found same preloaded, setter not");
  const rec = await savedRecord(w, "envset.same");
  assert.match(rec.dropped["envset.setter"] ?? "", /^wrote os\.environ\['ENVSET_PATH'\] while loading/);
});

test("a module that changes the process's cwd, umask, open files limit or random seed while loading is not preloaded: the change holds in each run, as directly", async () => {
  const { python, script, cwd: dir } = venvWithPackage(w.dir, w.work, "stater", "stater_cli.py");
  const direct = w.run([python, script], { direct: true, cwd: dir });
  assert.match(direct.stdout.toString(), /^\/ 0o27 \d+ 0\.9664535356921388\n$/);
  let seen = "";
  for (let i = 0; i < 6; i++) {
    const r = w.run([python, script], { cwd: dir });
    assert.equal(r.stdout.toString(), direct.stdout.toString(), `run ${i}: ${r.stderr}`);
    seen = r.stderr.toString();
    await w.until(`run ${i}: the pool settles`, () => w.status()!.pools.every((p) => p.starting === 0));
  }
  assert.equal(seen, "preloaded: ['stater.reads']\n", "only the module that changed nothing was preloaded");
  const rec = await savedRecord(w, "stater.reads");
  for (const [name, what] of [["cwd", "working directory"], ["mask", "umask"], ["files", "open files limit"], ["seed", "random state"]]) {
    assert.match(rec.dropped[`stater.${name}`] ?? "", new RegExp(`^changed the process's ${what}`), `stater.${name}: ${JSON.stringify(rec.dropped)}`);
  }
});

test("a module that changes files while loading is not preloaded, nor any root that loads it: its work happens once per run, as directly, and one template learns them all", async () => {
  // Its own daemon: the templates counted are this tool's.
  const d = new WarmEnv();
  try {
    const { python, site, script, cwd: dir } = venvWithPackage(d.dir, d.work, "writes", "writes_cli.py");
    const venv = dirname(dirname(python));
    const log = join(venv, "writes.log");
    const tmp = join(venv, "writes-tmp");
    mkdirSync(tmp);
    const env = d.env;
    const lines = () => readFileSync(log, "utf8").split("\n").filter(Boolean).length;
    // -B first: no bytecode cache is written until the pool without it, whose template is then the first to load
    // (and cache) the modules it preloads. The import system's .pyc writes are not the modules' own.
    const direct = d.run([python, "-B", script], { direct: true, env, cwd: dir });
    assert.equal(direct.stdout.toString(), "loaded: base log a b c d\nworked in a temp dir of its own: ['work']\n", direct.stderr.toString());
    let runs = 1;
    for (const flags of [["-B"], ["-B"], ["-B"], ["-B"], ["-B"], [], [], []]) {
      same(d.run([python, ...flags, script], { env, cwd: dir }), direct, `run ${runs} (${flags.join(" ") || "no flags"})`);
      runs++;
      // Before, the template appended the line once for all its children, and its temp directory was every child's
      // (the first child's exit removed it: the next run failed) or left behind by a template not used.
      assert.equal(lines(), runs, `one log line per run, none from a template (after run ${runs})`);
      assert.deepEqual(readdirSync(tmp), [], `no temp directory left after run ${runs}`);
      await d.until(`run ${runs}: the pool settles`, () => d.status()!.pools.every((p) => p.starting === 0));
    }
    const rec = await savedRecord(d, "writes.base");
    assert.match(rec.dropped["writes.log"] ?? "", new RegExp(`^changed files while loading: ${log} \\(open\\)$`));
    assert.match(rec.dropped["writes.a"] ?? "", new RegExp(`^changed files while loading: ${tmp}/writes-\\w+ \\(tempfile\\.mkdtemp\\)$`));
    // b, c and d would fail on the registry a's taken-back import filled before it failed (ValueError): "tried again
    // without it" in the next template, where the next of them made the temp directory, one template each, until warm
    // gave up on the tool after three. A module that changed files is not loaded again in the template.
    for (const m of ["b", "c", "d"]) assert.match(rec.dropped[`writes.${m}`] ?? "", /^loads writes\.constants, which changed files while loading: .* \(tempfile\.mkdtemp\)$/);
    assert.equal(rec.dropped["writes.base"], undefined, "base is preloaded: writing its bytecode cache is not the module's work");
    assert.ok(readdirSync(join(site, "writes", "__pycache__")).some((f) => f.startsWith("base.")), "the template that preloaded base cached its bytecode");
    const unusable = readFileSync(join(d.stateDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes("python template not usable")).length;
    assert.ok(unusable <= 2, `${unusable} templates not usable`);
    const pools = d.status()!.pools.filter((p) => p.tool.startsWith("writes_cli.py"));
    assert.equal(pools.length, 2, JSON.stringify(pools));
    for (const pool of pools) assert.ok(pool.hits > 0 && !pool.broken, `each pool (with -B and without) runs warm: ${JSON.stringify(pool)}`);
  } finally {
    await d.stop();
  }
});

test("roots that fail only because another root's import was taken back, one after the other, do not make warm give up on the tool: each template learns one for good, and learning converges", async () => {
  // Its own daemon: the templates and direct runs counted are this tool's.
  const d = new WarmEnv();
  try {
    const { python, script, cwd: dir } = venvWithPackage(d.dir, d.work, "writes", "writes_tags_cli.py");
    mkdirSync(join(dirname(dirname(python)), "writes-tmp"));
    const direct = d.run([python, script], { direct: true, cwd: dir });
    assert.equal(direct.stdout.toString(), "loaded: base p q r s\nworked in a temp dir of its own: ['work']\n", direct.stderr.toString());
    // p makes the temp directory (dropped); q, r and s then fail in tags, on the registry p's taken-back import filled,
    // before they reach constants: tried again in the next template, where the first of them is dropped, and so on.
    // Those templates each learned a root for good and deferred the rest: before, each counted as a try, and after
    // three warm ran the tool directly until its files changed.
    const warm: boolean[] = [];
    for (let i = 0; i < 9; i++) {
      const before = d.status()?.runs ?? 0;
      same(d.run([python, script], { cwd: dir }), direct, `run ${i}`);
      warm.push(d.status()!.runs > before);
      await d.until(`run ${i}: the pool settles`, () => d.status()!.pools.every((p) => p.starting === 0));
    }
    const reasons = (d.status() as unknown as { directByReason: Record<string, number> }).directByReason;
    assert.ok(!Object.keys(reasons).some((r) => r.startsWith("warm could not learn")), JSON.stringify(reasons));
    assert.deepEqual(warm.slice(-3), [true, true, true], `the last runs are warm (${warm.map((w) => (w ? "w" : "d")).join("")})`);
    const rec = await savedRecord(d, "writes.base");
    for (const m of ["p", "q", "r", "s"]) assert.match(rec.dropped[`writes.${m}`] ?? "", /changed files while loading: .* \(tempfile\.mkdtemp\)$/, `writes.${m}`);
    assert.equal(rec.dropped["writes.base"], undefined);
  } finally {
    await d.stop();
  }
});
