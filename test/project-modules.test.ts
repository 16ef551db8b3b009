// A project's own modules are never preloaded: only installed code is. A
// test file that mocha loads runs its top-level code in the run, once per
// run, as directly, and never in a warm process that may not serve a run.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT, WarmEnv } from "./helpers/warm-env";

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

  const dir = join(w.stateDir, "preload");
  const records = readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as { modules: [string, string][] });
  const mocha = records.find((r) => r.modules.some(([, id]) => id.includes("/node_modules/mocha/")));
  assert.ok(mocha, "mocha's own modules are learned");
  assert.deepEqual(mocha.modules.filter(([, id]) => id.includes(project)), [], "no module of the project is in the preload set");
});
