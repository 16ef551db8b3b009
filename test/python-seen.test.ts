// What a Python tool can see of warm itself is what a direct run shows:
// sys.modules without warm's runtime, and installed modules that look at
// whoever imported them while loading (their stack, a warning's place) see
// the tool's own code, because warm does not preload them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { fixture, PYTHON, WarmEnv } from "./helpers/warm-env";
import { PreloadStore } from "../daemon/src/preload-store";
import { pythonToolId } from "../daemon/src/runtimes/python/runtime";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const DEPS = ["seen_fine.py", "seen_frame.py", "seen_stack.py", "seen_walk.py", "seen_warn.py"];

test("sys.modules, stacks and warnings at import are a direct run's: modules that look at their importer are not preloaded, those that read their own frame are", async () => {
  const venv = join(w.dir, "venv-seen");
  const made = spawnSync(PYTHON, ["-m", "venv", "--without-pip", venv], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const python = join(venv, "bin", "python3");
  const site = spawnSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  for (const m of DEPS) copyFileSync(fixture(`python/${m}`), join(site, m));
  const dir = join(w.work, "seen");
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "seen.py");
  copyFileSync(fixture("python/seen.py"), script);
  const direct = w.run([python, script], { direct: true });
  assert.equal(direct.status, 0, direct.stderr.toString());
  assert.match(direct.stdout.toString(), /warm modules: \[\]\nimporter by sys._getframe: __main__\nimporter by a walk: __main__\n/);
  assert.match(direct.stderr.toString(), /seen\.py:\d+: DeprecationWarning: seen_warn is deprecated/);
  for (let i = 0; i < 5; i++) {
    same(w.run([python, script]), direct, `run ${i}`);
    await w.ready();
  }
  assert.ok(w.status()!.runs >= 3, "most runs were warm");
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode: "script", target: script }))}.json`);
  const record = (): { dropped: Record<string, string>; modules: string[][] } => {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch {
      return { dropped: {}, modules: [] };
    }
  };
  const dropped = () => record().dropped ?? {};
  await w.until("the modules that looked at their importer to be recorded as dropped", () => ["seen_frame", "seen_stack", "seen_walk", "seen_warn"].every((m) => m in dropped()));
  assert.match(dropped().seen_warn, /warned/);
  // One that reads only its own frame (a TypeVar, a namedtuple, inspect.currentframe()) stays preloaded.
  assert.equal(dropped().seen_fine, undefined);
  assert.ok(record().modules.some((m) => m[1] === "seen_fine"), JSON.stringify(record().modules));
  assert.match(dropped().seen_frame, /frames of whoever imported it/);
  assert.match(dropped().seen_walk, /frames of whoever imported it/);
  assert.match(dropped().seen_stack, /took its stack/);
});
