// How a caller reaches a declared coprocess, and what separates and renews
// coprocesses: `warm mytool` by its word on PATH and a multi-call symlink
// `mytool` -> warm both run it warm, as directly; the names a hello declares
// join the key (a coprocess per value, started with it); a change to the
// executable alone (a binary that watches nothing) restarts its coprocess.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { buildExamples, C_EXAMPLE, sameWarm } from "./helpers/coprocess";
import { WARM, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  buildExamples();
  w = new WarmEnv();
  w.writeConfig({ tools: { example: { coprocess: { mode: "fork" } } } });
});
after(async () => {
  await w.stop();
});

/** Pids of the coprocesses of the pools whose label starts with `tool`. */
function pids(tool: string): number[] {
  return [...new Set(w.status()!.pools.filter((p) => p.tool.startsWith(tool)).flatMap((p) => p.pids))];
}

test("by its word: `warm example` finds the declared tool on PATH, and a multi-call symlink `example` -> warm runs it too; both warm, as directly", async () => {
  const tools = join(w.dir, "tools");
  const links = join(w.dir, "links");
  mkdirSync(tools);
  mkdirSync(links);
  symlinkSync(C_EXAMPLE, join(tools, "example"));
  symlinkSync(WARM, join(links, "example"));
  const env = { ...w.env, PATH: `${tools}:/usr/bin:/bin` };
  const linkEnv = { ...w.env, PATH: `${links}:${tools}:/usr/bin:/bin` };
  const direct = w.run(["example", "a b", "c"], { direct: true, env });
  assert.match(direct.stdout.toString(), /^argc 3\narg a\\x20b\narg c\n/);
  w.run(["example", "learn"], { env }); // the first run learns the names its hello declares
  await w.ready();
  for (let i = 0; i < 2; i++) {
    let before = w.status()!.runs;
    same(w.run(["example", "a b", "c"], { env }), direct, "warm example");
    assert.equal(w.status()!.runs, before + 1, "`warm example` ran warm");
    await w.ready();
    before = w.status()!.runs;
    same(w.run([join(links, "example"), "a b", "c"], { direct: true, env: linkEnv }), direct, "the symlink");
    assert.equal(w.status()!.runs, before + 1, "the multi-call symlink ran warm");
    await w.ready();
  }
});

test("a name the hello declares (EX_DECLARED) joins the key: a coprocess per value, each started with its callers' value", async () => {
  const runs = (value: string) => ({ ...w.env, EX_DECLARED: value });
  w.run([C_EXAMPLE], { env: runs("one") });
  await w.ready();
  sameWarm(w, [C_EXAMPLE, "x"], { env: runs("one") });
  w.run([C_EXAMPLE], { env: runs("two") }); // another key: its pool starts (this run may be direct)
  await w.ready();
  sameWarm(w, [C_EXAMPLE, "y"], { env: runs("two") });
  sameWarm(w, [C_EXAMPLE, "z"], { env: runs("one") });
  const declared = pids("example").map((pid) => /(?:^|\0)EX_DECLARED=([^\0]*)/.exec(readFileSync(`/proc/${pid}/environ`, "latin1"))?.[1] ?? "(unset)");
  assert.deepEqual(declared.filter((v) => v !== "(unset)").sort(), ["one", "two"], `the coprocesses' EX_DECLARED: ${JSON.stringify(declared)}`);
});

test("the executable changed (a binary that watches no file): the next run is a new coprocess's, as directly", async () => {
  const dir = join(w.dir, "copy");
  mkdirSync(dir);
  const tool = join(dir, "example");
  copyFileSync(C_EXAMPLE, tool);
  utimesSync(tool, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  w.run([tool]); // learns
  await w.ready();
  sameWarm(w, [tool, "before"]);
  await w.ready();
  const first = pids("example").filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith(tool));
  assert.equal(first.length, 1, "one coprocess of the copy");
  const now = new Date();
  utimesSync(tool, now, now); // same bytes, a new mtime: as a rebuild leaves it
  sameWarm(w, [tool, "after"]);
  await w.ready();
  const second = pids("example").filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith(tool));
  assert.equal(second.length, 1, "one coprocess of the copy");
  assert.notEqual(second[0], first[0], "a new coprocess after the change");
});
