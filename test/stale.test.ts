// Never stale: once a file a warm process loaded changes, appears where
// resolution would now find it, or disappears, no later run uses the old
// state. Each run is compared with what a direct run prints at that moment.
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sized } from "./helpers/volume";
import { NODE, WarmEnv } from "./helpers/warm-env";

const CYCLES = sized(1000, 100); // helpers/volume.ts

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

/** A project: app/cli.js requires ./lib/dep.js and the package `pkg`. */
function project(root: string): { cli: string; dep: string } {
  mkdirSync(join(root, "app", "lib"), { recursive: true });
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  const cli = join(root, "app", "cli.js");
  writeFileSync(cli, 'const d = require("./lib/dep.js"); const p = require("pkg"); console.log(d.value, p.value);\n');
  writeFileSync(join(root, "node_modules", "pkg", "package.json"), '{"name":"pkg","main":"main.js"}');
  writeFileSync(join(root, "node_modules", "pkg", "main.js"), 'module.exports = { value: "pkg-main" };\n');
  writeFileSync(join(root, "node_modules", "pkg", "other.js"), 'module.exports = { value: "pkg-other" };\n');
  const dep = join(root, "app", "lib", "dep.js");
  writeFileSync(dep, 'module.exports = { value: "v000" };\n');
  return { cli, dep };
}

function runBoth(cli: string): string {
  const direct = w.run([NODE, cli], { direct: true });
  const warm = w.run([NODE, cli]);
  assert.equal(warm.stderr.toString(), direct.stderr.toString());
  assert.equal(warm.stdout.toString(), direct.stdout.toString());
  assert.equal(warm.status, direct.status);
  return warm.stdout.toString();
}

// Each edit against a direct run of the moment (output, errors, status), with and without a ready
// warm process; the CYCLES test below makes the same edits at volume, checking each run's output.
test("edits that keep a preloaded module's size are never run stale", async () => {
  const { cli, dep } = project(join(w.work, "same-size"));
  runBoth(cli);
  await w.ready();
  runBoth(cli); // learned: dep.js and pkg are preloaded from now on
  await w.ready();
  for (let i = 1; i <= 15; i++) {
    const value = `v${String(i).padStart(3, "0")}`;
    writeFileSync(dep, `module.exports = { value: "${value}" };\n`);
    assert.equal(runBoth(cli), `${value} pkg-main\n`, `cycle ${i}`);
    if (i % 3 === 0) await w.ready(); // sometimes a ready process exists, sometimes not
  }
});

test(`${CYCLES} edit-then-run cycles, sizes kept, never a stale run`, async () => {
  const { cli, dep } = project(join(w.work, "cycles"));
  runBoth(cli);
  await w.ready();
  for (let i = 1; i <= CYCLES; i++) {
    const value = `c${String(i).padStart(4, "0")}`; // always the same size
    writeFileSync(dep, `module.exports = { value: "${value}" };\n`);
    const r = w.run([NODE, cli]);
    assert.equal(r.stdout.toString(), `${value} pkg-main\n`, `cycle ${i}`);
    if (i % 5 === 0) await w.ready(); // a mix of ready processes and misses
  }
});

test("a config file a module read while loading is watched like a module", async () => {
  const root = join(w.work, "config-read");
  mkdirSync(join(root, "conf"), { recursive: true });
  const settings = join(root, "conf", "settings.json");
  writeFileSync(settings, '{"level":"aa"}');
  writeFileSync(join(root, "reader.js"), `module.exports = JSON.parse(require("fs").readFileSync(${JSON.stringify(settings)}, "utf8")).level;\n`);
  const cli = join(root, "cli.js");
  writeFileSync(cli, 'console.log(require("./reader.js"));\n');
  assert.equal(runBoth(cli), "aa\n");
  await w.ready();
  assert.equal(runBoth(cli), "aa\n");
  await w.ready();
  for (const level of ["bb", "cc", "dd"]) {
    writeFileSync(settings, `{"level":"${level}"}`); // same size every time
    assert.equal(runBoth(cli), `${level}\n`);
    await w.ready();
  }
});

test("a package.json change, a shadowing package and a deleted module take effect at once", async () => {
  const root = join(w.work, "resolution");
  const { cli, dep } = project(root);
  runBoth(cli);
  await w.ready();
  runBoth(cli);
  await w.ready();
  writeFileSync(join(root, "node_modules", "pkg", "package.json"), '{"name":"pkg","main":"other.js"}');
  assert.equal(runBoth(cli), "v000 pkg-other\n");
  await w.ready();
  // A closer node_modules/pkg now wins resolution.
  mkdirSync(join(root, "app", "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(root, "app", "node_modules", "pkg", "index.js"), 'module.exports = { value: "pkg-closer" };\n');
  assert.equal(runBoth(cli), "v000 pkg-closer\n");
  await w.ready();
  // A lockfile written (an install) drops the warm processes: the next run starts afresh.
  writeFileSync(join(root, "package-lock.json"), "{}");
  assert.equal(runBoth(cli), "v000 pkg-closer\n");
  const pool = w.status()!.pools.find((p) => p.script === cli)!;
  assert.deepEqual([pool.hits, pool.misses], [0, 1], "a fresh pool served the run after the lockfile changed");
  await w.ready();
  rmSync(dep);
  runBoth(cli); // node's own "Cannot find module" error, byte for byte
  await w.ready();
  writeFileSync(dep, 'module.exports = { value: "back" };\n');
  assert.equal(runBoth(cli), "back pkg-closer\n");
});

test("new entries above the entry's directory keep its warm processes, unless one is a node_modules", async () => {
  // /tmp or a home directory above a tool gets new entries all the time (a CI flake dropped warm processes on each).
  const root = join(w.work, "above");
  const { cli } = project(root);
  runBoth(cli);
  await w.ready();
  const pool = () => w.status()!.pools.find((p) => p.script === cli)!;
  const before = pool();
  mkdirSync(join(root, "a-new-dir"));
  writeFileSync(join(root, "a-new-module.js"), "");
  mkdirSync(join(w.work, "another-new-dir"));
  assert.equal(runBoth(cli), "v000 pkg-main\n");
  assert.deepEqual([pool().key, pool().hits, pool().misses], [before.key, before.hits + 1, before.misses], "the ready warm process served the run");
  await w.ready();
  mkdirSync(join(w.work, "node_modules"));
  assert.equal(runBoth(cli), "v000 pkg-main\n");
  assert.deepEqual([pool().hits, pool().misses], [0, 1], "a new node_modules above dropped the warm processes");
});
