// A project's own modules are never preloaded: only installed code is. A
// test file that mocha loads runs its top-level code in the run, once per
// run, as directly, and never in a warm process that may not serve a run.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { savedRecord } from "./helpers/tool-tree";
import { NODE, ROOT, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const MOCHA = join(ROOT, "node_modules", ".bin", "mocha");

test("mocha's test files run once per run, warm as directly, and are never preloaded", async () => {
  const project = join(w.work, "project");
  const log = join(w.work, "loads.log");
  mkdirSync(join(project, "test"), { recursive: true });
  writeFileSync(join(project, "package.json"), '{ "name": "p", "private": true }\n');
  writeFileSync(
    join(project, "test", "a.test.js"),
    `require("fs").appendFileSync(${JSON.stringify(log)}, "loaded\\n");\nconst assert = require("assert");\ndescribe("a", () => it("adds", () => assert.equal(1 + 1, 2)));\n`,
  );
  // TAP: mocha's default reporters print the suite's duration.
  const args = [MOCHA, "--reporter", "tap", "test/a.test.js"];
  const lines = () => readFileSync(log, "utf8").split("\n").length - 1;
  const direct = [];
  for (let i = 0; i < 5; i++) direct.push(w.run(args, { direct: true, cwd: project }));
  assert.equal(lines(), 5);
  for (let i = 0; i < 5; i++) {
    const warm = w.run(args, { cwd: project });
    assert.equal(warm.stdout.toString(), direct[i].stdout.toString(), `stdout of warm run ${i + 1}`);
    assert.equal(warm.stderr.toString(), direct[i].stderr.toString(), `stderr of warm run ${i + 1}`);
    assert.equal(warm.status, direct[i].status);
    await w.ready();
  }
  assert.equal(lines(), 10, "five warm runs loaded the test file five times, as five direct runs");
  // The first runs teach warm what mocha loads; the later ones are warm.
  assert.ok((w.status()?.runs ?? 0) > 0, "some of the runs were served by a warm process");

  const mocha = await savedRecord(w, "/node_modules/mocha/");
  assert.deepEqual(mocha.modules.filter(([, id]) => id.includes(project)), [], "no module of the project is in the preload set");
});

test("an installed module that requires a module of the project while loading is not preloaded, and the project's module never runs at preload", async () => {
  const project = join(w.work, "tool-project");
  const log = join(w.work, "conf.log");
  for (const d of ["node_modules/tool", "node_modules/lib"]) mkdirSync(join(project, d), { recursive: true });
  writeFileSync(join(project, "conf.js"), `require("fs").appendFileSync(${JSON.stringify(log)}, "conf\\n");\nmodule.exports = { name: "conf" };\n`);
  writeFileSync(join(project, "node_modules/lib/index.js"), 'module.exports = require("path").join(__dirname, "../../conf.js");\nmodule.exports = require(module.exports).name;\n');
  writeFileSync(join(project, "node_modules/tool/package.json"), '{ "name": "tool" }\n');
  writeFileSync(join(project, "node_modules/tool/cli.js"), 'console.log("tool", require("../lib"), process.argv.length);\n');
  const cli = join(project, "node_modules/tool/cli.js");
  const lines = () => readFileSync(log, "utf8").split("\n").length - 1;
  const direct = w.run([NODE, cli], { direct: true, cwd: project });
  assert.equal(lines(), 1);
  for (let i = 0; i < 5; i++) {
    const warm = w.run([NODE, cli], { cwd: project });
    assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout of warm run ${i + 1}`);
    assert.equal(warm.status, direct.status);
    await w.ready();
  }
  assert.equal(lines(), 6, "five warm runs ran conf.js five times, as five direct runs, and never while preloading");
  const tool = await savedRecord(w, "/node_modules/lib/index.js");
  assert.ok(!tool.modules.some(([, id]) => id.endsWith("/conf.js")), "conf.js is not learned");
  assert.match(tool.dropped[join(project, "node_modules/lib/index.js")] ?? "", /a module of the project/);
});
