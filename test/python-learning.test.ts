// Learning a Python tool's preloading converges: a module that many roots
// import, and that does at its first import what a template must not (as
// ansible's Display() reconfigures sys.stdout), costs one template, not one
// per root; and a pool stops only when nothing is being learned.
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { fixture, WarmEnv } from "./helpers/warm-env";
import { venvWith } from "./helpers/python-venv";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

test("a module every root imports, which a template must not run, is learned in two templates and the tool runs warm", async () => {
  const { python, site } = venvWith(w.dir, "venv-chain", []);
  cpSync(fixture("python/chain"), join(site, "chain"), { recursive: true });
  const dir = join(w.work, "chain");
  mkdirSync(dir, { recursive: true });
  // Not next to the package: a script's own directory comes first on sys.path (its `chain` would be the user's code).
  const script = join(dir, "chain_cli.py");
  copyFileSync(fixture("python/chain_cli.py"), script);
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
