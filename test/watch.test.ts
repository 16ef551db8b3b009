// Never stale, exactly: a change that could alter what a tool loads drops
// its warm processes at once (and the log names the file), while changes
// that cannot (an unrelated directory beside the tool, a device file, a test
// runner's temp dirs) leave them alone. Files read while loading count
// whatever fs API read them. Each run is compared with a direct run.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

function runBoth(cli: string, cwd = w.work): string {
  const direct = w.run([NODE, cli], { direct: true, cwd });
  const warm = w.run([NODE, cli], { cwd });
  assert.equal(warm.stderr.toString(), direct.stderr.toString());
  assert.equal(warm.stdout.toString(), direct.stdout.toString());
  assert.equal(warm.status, direct.status);
  return warm.stdout.toString();
}

/** The pool of `cli`: its pids (a template's first) while it has a ready process. */
function readyPids(cli: string): number[] {
  const pool = w.status()?.pools.find((p) => p.script === cli);
  return pool && pool.ready > 0 ? pool.pids : [];
}

/** Runs `cli` until a warm process with its modules preloaded is ready; returns its pids. */
async function learned(cli: string): Promise<number[]> {
  runBoth(cli);
  await w.ready();
  runBoth(cli); // learned: its modules are preloaded from now on
  await w.ready();
  const pids = readyPids(cli);
  const pool = w.status()!.pools.find((p) => p.script === cli) as { ready: number; mode: string };
  assert.equal(pool.ready, 1, "one warm process ready");
  // Its pids: that process, or (a forked child) its template and it.
  assert.equal(pids.length, pool.mode.startsWith("fork") ? 2 : 1, `pids of a pool in mode ${pool.mode}`);
  return pids;
}

/**
 * Makes a change, then waits for the daemon to have read it (a warm run of
 * another tool drains the change queue first), and says whether `cli`'s
 * ready process survived.
 */
function survives(cli: string, pids: number[], change: () => void): boolean {
  change();
  runBoth(join(w.work, "other.js"));
  return JSON.stringify(readyPids(cli)) === JSON.stringify(pids);
}

test("a new entry that no resolution could pick leaves warm processes alone; one that could drops them, and the log says which", async () => {
  const root = join(w.work, "tool");
  mkdirSync(join(root, "lib"), { recursive: true });
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(w.work, "other.js"), "console.log('other');\n");
  const cli = join(root, "cli.js");
  writeFileSync(cli, 'console.log(require("./lib/util").v, require("pkg").v);\n');
  writeFileSync(join(root, "lib", "util.js"), 'module.exports = { v: "util" };\n');
  writeFileSync(join(root, "node_modules", "pkg", "index.js"), 'module.exports = { v: "pkg" };\n');
  assert.equal(runBoth(cli), "util pkg\n");
  const pids = await learned(cli);
  const hits = () => w.status()!.pools.find((p) => p.script === cli)!.hits;
  const hitsBefore = hits(); // whether learned()'s first run found one ready depends on timing

  // A test runner's temp dir beside the tool, beside its modules, above it.
  for (const dir of [join(root, "tmp-abc"), join(root, "lib", ".cache"), join(root, "node_modules", ".tmp"), join(w.work, "jest_xyz"), join(w.dir, "unrelated")]) {
    assert.ok(survives(cli, pids, () => mkdirSync(dir)), `mkdir ${dir} left the warm process alone`);
    assert.ok(survives(cli, pids, () => rmSync(dir, { recursive: true })), `rmdir ${dir} left the warm process alone`);
  }
  assert.ok(survives(cli, pids, () => writeFileSync(join(root, "lib", "notes.txt"), "x")), "a file no resolution picks");
  assert.ok(survives(cli, pids, () => writeFileSync("/dev/null", "x")), "writing /dev/null");
  assert.equal(runBoth(cli), "util pkg\n");
  assert.equal(hits(), hitsBefore + 1, "the same warm process served the run after those changes");
  await w.ready();

  // pkg.js in node_modules is found before node_modules/pkg/: it shadows the package.
  writeFileSync(join(root, "node_modules", "pkg.js"), 'module.exports = { v: "shadow" };\n');
  assert.equal(runBoth(cli), "util shadow\n");
  const log = readFileSync(join(w.stateDir, "daemon.log"), "utf8");
  assert.ok(log.includes(`"change":"${join(root, "node_modules", "pkg.js")} created"`), "the log names the file that dropped the pool");
  await w.ready();
  // "./lib/util" is tried as the exact file lib/util before lib/util.js.
  await learned(cli);
  writeFileSync(join(root, "lib", "util"), 'module.exports = { v: "exact" };\n');
  assert.equal(runBoth(cli), "exact shadow\n");
});

test("files read while loading are watched whatever fs API read them: promises, streams, callbacks, require of JSON", async () => {
  const root = join(w.work, "reads");
  mkdirSync(root, { recursive: true });
  const files = ["a.txt", "b.txt", "c.txt", "d.json"].map((f) => join(root, f));
  const values = ["v0", "v0", "v0", "v0"];
  const write = (i: number, v: string) => {
    values[i] = v;
    writeFileSync(files[i], i === 3 ? `{"v":"${v}"}` : v);
  };
  for (let i = 0; i < 4; i++) write(i, "v0");
  // An ES module that reads them all while loading (top-level await), so a
  // warm process holds what they said when it preloaded.
  writeFileSync(
    join(root, "reader.mjs"),
    `import fs from "node:fs";
import { createRequire } from "node:module";
const [a, b, c] = ${JSON.stringify(files.slice(0, 3))};
const streamed = new Promise((resolve) => { let s = ""; fs.createReadStream(b, "utf8").on("data", (d) => (s += d)).on("end", () => resolve(s)); });
const called = new Promise((resolve) => fs.readFile(c, "utf8", (_e, d) => resolve(d)));
export default await Promise.all([fs.promises.readFile(a, "utf8"), streamed, called, createRequire(import.meta.url)("./d.json").v]);
`,
  );
  const cli = join(root, "cli.js");
  writeFileSync(cli, 'import("./reader.mjs").then((m) => console.log(m.default.join(" ")));\n');
  assert.equal(runBoth(cli), "v0 v0 v0 v0\n");
  await learned(cli);
  // One file at a time (the same size every time), so each must be watched on its own.
  for (let round = 1; round <= 2; round++) {
    for (let i = 0; i < 4; i++) {
      write(i, `v${round}`);
      assert.equal(runBoth(cli), `${values.join(" ")}\n`, `round ${round}, file ${files[i]}`);
      await w.ready();
    }
  }
});

test("a file read only by a process warm discarded (a module doing the tool's work while loading, which rewrites the file each run) drops nothing", async () => {
  const cli = fixture("own-cache/cli.js");
  const env = { ...w.env, HOME: join(w.dir, "own-cache-home") };
  mkdirSync(env.HOME, { recursive: true });
  const both = () => {
    const direct = w.run([NODE, cli], { direct: true, env });
    const warm = w.run([NODE, cli], { env });
    assert.deepEqual([warm.status, warm.stdout.toString(), warm.stderr.toString()], [direct.status, direct.stdout.toString(), direct.stderr.toString()]);
  };
  const pool = () => w.status()?.pools.find((p) => p.script === cli);
  const settled = () => w.until(() => `a ready process for ${cli}; status: ${JSON.stringify(w.status())}`, () => (pool()?.ready ?? 0) >= 1 && pool()?.starting === 0, 60_000);
  // Learning: a process preloads work.js, which reads the cache, is stopped
  // by its write and discarded; the next ones do not preload it.
  both();
  await settled();
  both();
  await settled();
  // Each run rewrites the cache: the ready process, which never read it, serves the next.
  for (let i = 0; i < 3; i++) {
    const hits = pool()!.hits;
    both();
    assert.equal(pool()?.hits, hits + 1, `run ${i}: a ready process served it`);
    await settled();
  }
  const log = readFileSync(join(w.stateDir, "daemon.log"), "utf8");
  assert.ok(!log.includes("own-cache/cache.json"), "no pool dropped for the cache file");
});
