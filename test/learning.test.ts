// Learning that converges and never costs the user: what a module does with
// the environment while loading becomes part of the key instead of a drop,
// a culprit and every module that loads it are found by one warm process,
// JSON and require.main preload as a direct run sees them, and a tool that
// does not converge runs directly after a few tries; a pool whose key a
// learned fact refines keeps serving, and a promise left rejected while
// preloading drops its module instead of ending the process. Every run is
// compared with a direct run.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type PreloadRecord, savedRecord } from "./helpers/tool-tree";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

/** Runs the script warm and directly with the same env; stdout and status must match. Returns the warm run's last stderr line. */
function runBoth(script: string, env: NodeJS.ProcessEnv = {}): { out: string; report: string } {
  const all = { ...w.env, ...env };
  const direct = w.run([NODE, script], { direct: true, env: all });
  const warm = w.run([NODE, script], { env: all });
  assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of ${script}`);
  assert.equal(warm.status, direct.status);
  const lines = warm.stderr.toString().trim().split("\n");
  return { out: warm.stdout.toString(), report: lines[lines.length - 1] };
}

/** Waits until no process of the script's pools is starting (learning in the background has settled). */
async function settled(script: string): Promise<void> {
  await w.until(`${script}'s pools to settle`, () => (w.status()?.pools ?? []).filter((p) => p.script === script).every((p) => p.starting === 0));
}

/** The daemon's "not usable" lines for this script. */
function unusable(script: string): number {
  return readFileSync(join(w.stateDir, "daemon.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes("warm process not usable") && l.includes(`"tool":"${script}"`)).length;
}

type Learned = PreloadRecord & { enumeratesEnv: boolean; envNames: string[] };

/** The saved record that learned `marker` (the daemon saves in batches, a moment after learning). */
const record = (marker: string) => savedRecord<Learned>(w, marker);

/** Runs until the tool's module is preloaded (within a few runs), comparing each run with a direct one. */
async function untilPreloaded(script: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  for (let i = 0; i < 5; i++) {
    if (JSON.parse(runBoth(script, env).report).preloaded) return;
    await settled(script);
  }
  assert.fail(`${script} was never preloaded`);
}

test("a module that lists the environment's names is preloaded, keyed on the names and on the values it reads", async () => {
  const cli = fixture("learning/lister.js");
  await untilPreloaded(cli, { LISTER_COLORS: "no" });
  assert.equal(unusable(cli), 1, "one warm process taught warm that the module lists the names");
  const r = await record("learning/lib/lister.js");
  assert.equal(r.enumeratesEnv, true);
  assert.ok(r.envNames.includes("LISTER_COLORS") && r.envNames.includes("LISTER"), "the values it read (and set back) join the key");
  assert.deepEqual(Object.keys(r.dropped), [], "nothing dropped");
  // Another value of a variable it read, another name, one more unrelated name: each as directly.
  for (const env of [{ LISTER_COLORS: "yes" }, { LISTER_COLORS: "no", LISTER_DEPTH: "3" }, { LISTER_COLORS: "no", UNRELATED_NAME: "1" }, { LISTER: "x", LISTER_COLORS: "no" }]) {
    await untilPreloaded(cli, env);
    assert.match(runBoth(cli, env).out, /"opts"/);
  }
});

test("a module that copies argv while loading and the five that load it are all learned from one warm process", async () => {
  const cli = fixture("learning/fanout.js");
  runBoth(cli); // learns what it loads
  await settled(cli);
  for (let i = 0; i < 3; i++) {
    runBoth(cli);
    await settled(cli);
  }
  assert.equal(unusable(cli), 1, "one warm process was enough");
  const r = await record("learning/lib/fan1.js");
  const dropped = Object.entries(r.dropped).map(([id, why]) => [id.split("/learning/")[1], why.replace(/\/.*\/learning\//, "")]);
  // fan1 was loading the culprit when it copied argv; the others loaded it from the cache.
  const copied = "read process.argv (filter) while loading";
  assert.deepEqual(dropped.sort(), [
    ["lib/argv-shared.js", copied],
    ["lib/fan1.js", copied],
    ...[2, 3, 4, 5].map((i) => [`lib/fan${i}.js`, `loads lib/argv-shared.js, which ${copied}`]),
  ]);
  const pool = w.status()!.pools.find((p) => p.script === cli)!;
  assert.ok(pool.hits >= 1, "later runs were served warm");
});

test("a tool whose learning does not converge runs directly after three tries, and says why", async () => {
  const cli = fixture("learning/never.js");
  for (let i = 0; i < 8; i++) {
    runBoth(cli);
    await settled(cli);
  }
  assert.equal(unusable(cli), 3, "three warm processes, then no more");
  const s = w.status()!;
  const why = Object.keys((s as unknown as { directByReason: Record<string, number> }).directByReason);
  assert.ok(why.some((r) => r.startsWith("warm could not learn to preload this tool safely in 3 tries")), `direct runs by reason: ${why.join(" | ")}`);
  const trace = w.run([NODE, cli], { env: { ...w.env, WARM_DEBUG: "1" } }).stderr.toString();
  assert.match(trace, /daemon says direct: warm could not learn to preload this tool safely in 3 tries/);
});

test("JSON preloads as it was loaded: imported with its attribute, or required", async () => {
  const cli = fixture("learning/json.mjs");
  await untilPreloaded(cli);
  const r = await record("learning/lib/json-user.mjs");
  assert.ok(r.modules.some(([kind, id]) => kind === "json" && id.endsWith("/learning/lib/data.json")), "imported JSON is preloaded as JSON");
  assert.ok(r.modules.some(([kind, id]) => kind === "cjs" && id.endsWith("/learning/lib/data.json")), "required JSON is preloaded by require");
  assert.equal(unusable(cli), 0);
  assert.equal(runBoth(cli).out, '{"viaImport":{"name":"data","v":1},"viaRequire":{"name":"data","v":1}}\n');
});

test("a module that keeps require.main.filename while loading is preloaded with the entry's", async () => {
  const cli = fixture("learning/main-reader.js");
  await untilPreloaded(cli);
  assert.equal(runBoth(cli).out, `${cli}\n`);
  assert.deepEqual((await record("learning/lib/main-filename.js")).dropped, {});
});

test("a caller no warm process is ready for runs directly (a cold start would be slower) while one starts for the next run; only a tool's first run waits, to learn", async () => {
  const cli = fixture("learning/main-reader.js"); // learned above
  const env = { LANG: "C" }; // a key no pool has yet
  const count = () => (w.status() as unknown as { directByReason: Record<string, number> }).directByReason["no warm process ready (one starts in the background; starting one for this run would be slower than running it directly)"] ?? 0;
  const n = count();
  runBoth(cli, env);
  assert.equal(count(), n + 1, "the first run of the new key ran directly");
  await settled(cli);
  assert.equal(JSON.parse(runBoth(cli, env).report).preloaded, true, "the next one found a warm process with the modules loaded");
});

test("a fact learned while preloading refines the pool's key: the pool goes on, and no run after the first goes direct", async () => {
  const cli = fixture("learning/rekey.js");
  const env = { ...w.env, REKEY_MODE: "fast", WARM_DEBUG: "1" };
  const direct = w.run([NODE, cli], { direct: true, env });
  const ways: string[] = [];
  for (let i = 0; i < 5; i++) {
    const warm = w.run([NODE, cli], { env });
    assert.equal(warm.stdout.toString(), direct.stdout.toString());
    // The shim's trace (WARM_DEBUG) says when it ran the command directly; the tool's own line is JSON.
    const lines = warm.stderr.toString().split("\n");
    ways.push(lines.some((l) => /^warm\[\d+\] .*directly/.test(l)) ? "d" : "w");
    if (JSON.parse(lines.find((l) => l.startsWith("{"))!).preloaded) break;
    // A process ready for the next run (after the one that learns, if this run's replacement learns).
    await w.ready("rekey.js");
  }
  assert.match(ways.join(""), /^w+$/, `runs ${ways.join("")} (d: directly) until one found the module preloaded`);
  assert.equal(unusable(cli), 1, "one warm process taught warm the variable");
  const pools = w.status()!.pools.filter((p) => p.script === cli);
  assert.equal(pools.length, 1, "the pool that learned it moved to its new key");
  assert.match(runBoth(cli, { REKEY_MODE: "slow" }).out, /mode: slow/, "another value: another key, as directly");
});

test("a promise left rejected while preloading (an ES import of a trapped module) drops its modules; the process does not die", async () => {
  const cli = fixture("learning/esm-chain.mjs");
  await untilPreloaded(cli);
  assert.equal(runBoth(cli).out, "writer keeps a function\n");
  const dropped = (await record("learning/lib/clean.mjs")).dropped;
  const outer = Object.entries(dropped).find(([id]) => id.endsWith("/learning/lib/esm-outer.mjs"));
  assert.match(outer?.[1] ?? "", /^loads \S+\/learning\/lib\/esm-writer\.mjs, which used process\.stdout\.write while loading$/, JSON.stringify(dropped));
  const died = readFileSync(join(w.stateDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes("esm-chain") && l.includes("keep failing"));
  assert.deepEqual(died, []);
  assert.ok(unusable(cli) <= 2, "learned from at most two warm processes");
});

test("an ES import error prints the direct run's stack trace in every run, the runs that learn ES modules included", async () => {
  // A CLI that imports a file the user names (as ts-node, tsx or a config loader do), here one Node cannot load.
  const dir = join(w.dir, "tools", "node_modules", "imp");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cli.mjs"), 'const { load } = await import("./load.mjs");\nawait load(process.argv[2]);\n');
  writeFileSync(join(dir, "load.mjs"), 'import { pathToFileURL } from "node:url";\nexport const load = (file) => import(pathToFileURL(file).href);\n');
  writeFileSync(join(w.work, "a.ts"), "export {};\n");
  const cli = join(dir, "cli.mjs");
  const direct = w.run([NODE, cli, "a.ts"], { direct: true });
  assert.match(direct.stderr.toString(), /ERR_UNKNOWN_FILE_EXTENSION/);
  for (let i = 0; i < 5; i++) {
    const warm = w.run([NODE, cli, "a.ts"]);
    assert.equal(warm.stderr.toString(), direct.stderr.toString(), `run ${i + 1}'s stderr`);
    assert.equal(warm.status, direct.status);
    await w.ready("cli.mjs"); // the next run is served warm
  }
  const r = await record("node_modules/imp/load.mjs");
  assert.ok(r.modules.some(([kind, id]) => kind === "esm" && id.endsWith("/imp/load.mjs")), "the ES module it imports was learned");
  assert.ok(!r.modules.some(([, id]) => id.endsWith("a.ts")), "the file Node could not load was not");
  const pool = w.status()!.pools.find((p) => p.script === cli)!;
  assert.ok(pool.hits >= 4, `every run after the first (which starts the pool) was served warm: ${pool.hits} hits`);
});

test("a module that starts a process while loading is not preloaded (the child gets every variable's value); the others key on what they read, so a new OLDPWD (each cd) is no new pool", async () => {
  const cli = fixture("learning/spawner.js");
  await untilPreloaded(cli, { SPAWN_SEES: "a", OLDPWD: "/one" });
  const r = await record("learning/lib/names.js");
  assert.match(r.dropped[fixture("learning/lib/spawner.js")] ?? "", /^started a process while loading/);
  assert.ok(!r.envNames.includes("OLDPWD") && !r.envNames.includes("SPAWN_SEES"), `no value of a variable no module read is keyed: ${r.envNames.join(" ")}`);
  const pools = () => w.status()!.pools.filter((p) => p.script === cli).length;
  const before = pools();
  for (const env of [{ SPAWN_SEES: "b", OLDPWD: "/two" }, { SPAWN_SEES: "c", OLDPWD: "/three", SHLVL: "7" }, { SPAWN_SEES: "d", OLDPWD: "/four" }]) {
    const { out, report } = runBoth(cli, env);
    assert.equal(JSON.parse(out).seen, `${env.SPAWN_SEES} ${env.OLDPWD}`, "the child sees this caller's variables");
    assert.equal(JSON.parse(report).preloaded, true, `served warm with ${JSON.stringify(env)}`);
    await settled(cli);
  }
  assert.equal(pools(), before, "one pool for every OLDPWD");
});

test("a module that keeps process.argv.slice(2) while loading (as TypeScript does) is preloaded, keyed on the caller's arguments", async () => {
  const cli = fixture("learning/slicer.js");
  /** A warm run with these arguments, against a direct one; whether it found the module preloaded. */
  const both = (args: string[]): boolean => {
    const direct = w.run([NODE, cli, ...args], { direct: true });
    const warm = w.run([NODE, cli, ...args]);
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of ${args.join(" ")}`);
    assert.equal(warm.stdout.toString(), `${JSON.stringify(args)}\n`);
    return JSON.parse(warm.stderr.toString()).preloaded;
  };
  for (const args of [["a", "b"], ["c"], ["a", "b"], []]) {
    let preloaded = false;
    for (let i = 0; i < 5 && !preloaded; i++) {
      preloaded = both(args);
      await settled(cli);
    }
    assert.ok(preloaded, `preloaded for ${JSON.stringify(args)}`);
  }
  const r = await record("learning/lib/argv-slice.js");
  assert.deepEqual(r.dropped, {}, "nothing dropped");
});

test("a module that changes files while loading is not preloaded: its work happens once per run, as directly, never in a warm process's preloading", async () => {
  const cli = fixture("learning/appender.js");
  const log = join(w.work, "appender.log");
  const lines = () => readFileSync(log, "utf8").split("\n").filter(Boolean).length;
  w.run([NODE, cli, log], { direct: true });
  assert.equal(lines(), 1);
  for (let i = 2; i <= 6; i++) {
    const r = w.run([NODE, cli, log]);
    assert.equal(r.status, 0);
    await settled(cli);
    assert.equal(lines(), i, `one line per run, none from preloading (after run ${i})`);
  }
  const r = await record("learning/lib/appender.js");
  assert.match(r.dropped[fixture("learning/lib/appender.js")] ?? "", /^changed files while loading \(fs\.appendFileSync\)/);
});

test("a module that changes the working directory, the umask or process.title while loading is not preloaded: the change holds in each run, as directly", async () => {
  const cli = fixture("learning/stater.js");
  const direct = runBoth(cli).out;
  assert.equal(direct, "/ 27 titled-tool\n");
  for (let i = 0; i < 3; i++) {
    runBoth(cli);
    await settled(cli);
  }
  const r = await record("learning/lib/umasks.js");
  assert.match(r.dropped[fixture("learning/lib/chdirs.js")] ?? "", /^changed the working directory while loading/);
  assert.match(r.dropped[fixture("learning/lib/umasks.js")] ?? "", /^changed the umask while loading/);
  assert.match(r.dropped[fixture("learning/lib/titles.js")] ?? "", /^set process\.title while loading/);
});

test("a module that emits a warning while loading is not preloaded: every run prints it, as directly (Node prints it on the next tick, after preloading, and shows each deprecation once)", async () => {
  const cli = fixture("learning/warner.js");
  const stderr = (r: { stderr: Buffer }) => r.stderr.toString().replace(/\(node:\d+\)/g, "(node:PID)");
  const direct = w.run([NODE, cli], { direct: true });
  assert.match(stderr(direct), /DEP_WARM_LOAD.*careful at load\n.*--trace-deprecation.*\n.*DEP_WARM_CALL.*old function\n$/);
  for (let i = 0; i < 4; i++) {
    const warm = w.run([NODE, cli]);
    assert.equal(stderr(warm), stderr(direct), `warm run ${i + 1}`);
    await settled(cli);
  }
  const r = await record("learning/lib/warner.js");
  assert.match(r.dropped[fixture("learning/lib/warner.js")] ?? "", /^emitted a warning while loading \(careful at load\)/);
});

test("under --pending-deprecation a tool's first warning carries Node's hint in every run, and its modules still preload (warm's own hand-turned ticks warn nothing)", async () => {
  const cli = fixture("learning/pending.js");
  const cmd = [NODE, "--pending-deprecation", cli];
  const stderr = (r: { stderr: Buffer }) => r.stderr.toString().replace(/\(node:\d+\)/g, "(node:PID)").split("\n").filter((l) => !l.startsWith("{")).join("\n");
  const direct = w.run(cmd, { direct: true });
  assert.match(stderr(direct), /^preloaded false\n\(node:PID\) \[DEP0005\].*\n\(Use `node --trace-deprecation \.\.\.` .*\n$/);
  let preloaded = false;
  for (let i = 0; i < 5; i++) {
    const warm = w.run(cmd);
    assert.equal(warm.stdout.toString(), direct.stdout.toString());
    preloaded = stderr(warm).startsWith("preloaded true\n");
    assert.equal(stderr(warm), stderr(direct).replace("preloaded false", `preloaded ${preloaded}`), `warm run ${i + 1}`);
    await settled(cli);
  }
  assert.ok(preloaded, "the last run found its module preloaded");
});

test("what a module's nextTick and promise callbacks left while loading print reaches every run, after the entry's first synchronous part, as directly", async () => {
  const cli = fixture("learning/deferred.js");
  const direct = w.run([NODE, cli], { direct: true });
  assert.equal(direct.stdout.toString(), "main\nbanner from a tick\n");
  assert.equal(direct.stderr.toString(), "warning from a promise\n");
  for (let i = 0; i < 4; i++) {
    const warm = w.run([NODE, cli]);
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of warm run ${i + 1}`);
    assert.equal(warm.stderr.toString(), direct.stderr.toString(), `stderr of warm run ${i + 1}`);
    await settled(cli);
  }
  const r = await record("learning/lib/deferred.js");
  assert.match(r.dropped[fixture("learning/lib/deferred.js")] ?? "", /while loading/, "its callbacks ran while it was blamed");
});

test("a module that opens a network socket while loading is not preloaded: it opens it in each run, as directly, and no idle warm process holds it", async () => {
  const cli = fixture("learning/listener.js");
  const socket = join(w.dir, "listener.sock");
  for (let i = 1; i <= 5; i++) {
    // Directly after warm runs: the socket is free (before, the idle warm process that preloaded the module was listening on it: EADDRINUSE).
    const direct = w.run([NODE, cli, socket], { direct: true });
    assert.equal(direct.stdout.toString(), "listening\n", `the direct run ${i} could listen`);
    const warm = w.run([NODE, cli, socket]);
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `warm run ${i}`);
    assert.equal(warm.status, direct.status);
    await settled(cli);
  }
  const r = await record("learning/lib/listener.js");
  assert.match(r.dropped[fixture("learning/lib/listener.js")] ?? "", /^opened a network socket while loading \(net\.Server\.listen\)/);
});

test("a timer a module sets while loading counts from the run's start, as directly from the process's: a warm process idle for longer than its delay does not fire it at once", async () => {
  const cli = fixture("learning/timer-user.js");
  await untilPreloaded(cli);
  for (let i = 0; i < 3; i++) {
    await settled(cli);
    await w.ready();
    // What is under test is time itself: the ready process waits longer than the module's 1 s timer.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const r = runBoth(cli);
    assert.equal(r.out, "done\n", `run ${i}: the module's warning did not fire`);
    assert.equal(JSON.parse(r.report).preloaded, true, `run ${i} had the module preloaded`);
  }
});

test("a module that reads a file its tool's runs rewrite (a code cache) stops being preloaded, and the runs are warm; its exit listener runs once per run, never in a warm process that ran nothing", async () => {
  const cli = fixture("learning/cacher.js");
  const file = join(w.dir, "code-cache.json");
  const env = { CODE_CACHE_FILE: file };
  // Each run rewrites the file: the warm processes that had read it are dropped (never stale), a second time the module is.
  const runs = 6;
  for (let i = 0; i < runs; i++) {
    runBoth(cli, env);
    await settled(cli);
  }
  const r = await record("learning/lib/code-cache.js");
  assert.match(r.dropped[fixture("learning/lib/code-cache.js")] ?? "", /keeps changing \(a file the tool's runs rewrite\)/);
  const before = w.status()!.runs;
  runBoth(cli, env);
  assert.equal(w.status()!.runs, before + 1, "the run after the direct one was warm: the file it rewrote no longer drops the pool");
  await settled(cli);
  // Directly each run writes the file once; warm processes let go (learning, pools dropped) never ran the tool.
  const writers = readFileSync(`${file}.log`, "utf8").trim().split("\n");
  assert.equal(writers.length, 2 * (runs + 1), `the cache was written once per run, direct or warm (by ${writers.join(" ")})`);
});

test("a config read while loading that the user edits between runs drops the warm processes each time, and its module stays preloaded", async () => {
  const cli = fixture("learning/configured.js");
  const file = join(w.dir, "configured.json");
  writeFileSync(file, '{"level":"a0"}');
  const env = { CONFIG_FILE: file };
  await untilPreloaded(cli, env);
  const drops = () => readFileSync(join(w.stateDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes("warm processes dropped") && l.includes(file)).length;
  for (let i = 1; i <= 3; i++) {
    await settled(cli);
    await w.ready();
    // No run of the tool is going on when the user edits (the daemon has heard the last one end).
    await w.until("no run going on", () => (w.status() as unknown as { running: number }).running === 0);
    const before = drops();
    writeFileSync(file, `{"level":"a${i}"}`); // same size every time
    assert.equal(runBoth(cli, env).out, `a${i}\n`, `never stale after edit ${i}`);
    assert.equal(drops(), before + 1, `edit ${i} dropped the warm processes that had read the config`);
  }
  assert.equal((await record("learning/lib/config-reader.js")).dropped[fixture("learning/lib/config-reader.js")], undefined, "the module that reads the config is still preloaded");
  await settled(cli);
  await w.ready();
  assert.equal(JSON.parse(runBoth(cli, env).report).preloaded, true, "a run after the edits has it preloaded");
});
