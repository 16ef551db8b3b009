// What a Python tool can see of warm itself is what a direct run shows:
// sys.modules without warm's runtime, and installed modules that look at
// whoever imported them while loading (their stack, a warning's place) see
// the tool's own code, because warm does not preload them.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { venvWith as venvWithIn, venvWithPackage } from "./helpers/python-venv";
import { fixture, WarmEnv } from "./helpers/warm-env";
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

/** A virtualenv whose site-packages holds the given fixture modules (only installed code is preloaded), and the script, in the work dir. */
function venvWith(name: string, modules: string[], scriptName: string): { python: string; script: string } {
  const { python } = venvWithIn(w.dir, name, modules);
  const dir = join(w.work, name);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, scriptName);
  copyFileSync(fixture(`python/${scriptName}`), script);
  return { python, script };
}

test("sys.modules, stacks and warnings at import are a direct run's: modules that look at their importer are not preloaded, those that read their own frame are", async () => {
  const { python, script } = venvWith("venv-seen", DEPS, "seen.py");
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

test("a module that runs a program while loading is not preloaded: the program's output depends on each caller's cwd and env", async () => {
  const { python, script } = venvWith("venv-spawn", ["spawn_dep.py"], "spawner.py");
  const dirs = ["a", "b"].map((d) => {
    const dir = realpathSync(w.work) + `/spawn-${d}`;
    mkdirSync(dir, { recursive: true });
    return dir;
  });
  for (const [i, cwd] of [dirs[0], dirs[0], dirs[0], dirs[0], dirs[1], dirs[0], dirs[1]].entries()) {
    const env = { ...w.env, SPAWN_SEEN: `value-${i}` };
    const direct = w.run([python, script], { direct: true, cwd, env });
    assert.match(direct.stdout.toString(), new RegExp(`\\['${cwd}', 'value-${i}'\\]`));
    same(w.run([python, script], { cwd, env }), direct, `run ${i} in ${cwd}`);
    await w.ready();
  }
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode: "script", target: script }))}.json`);
  await w.until("the module to be recorded as dropped", () => {
    try {
      return /started a process/.test(JSON.parse(readFileSync(file, "utf8")).dropped.spawn_dep ?? "");
    } catch {
      return false;
    }
  });
});

test("a module that opens a network socket while loading is not preloaded: it opens it in each run, as directly, and no idle template holds it", async () => {
  const { python, script } = venvWith("venv-net", ["net_dep.py"], "net_listener.py");
  for (let i = 0; i < 5; i++) {
    // Directly after warm runs: the socket is free (before, the idle template that preloaded the module was listening on it).
    const direct = w.run([python, script], { direct: true });
    assert.equal(direct.stdout.toString(), "listening\n", `the direct run ${i} could listen: ${direct.stderr.toString()}`);
    same(w.run([python, script]), direct, `run ${i}`);
    await w.ready();
  }
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode: "script", target: script }))}.json`);
  await w.until("the module to be recorded as dropped", () => {
    try {
      return /opened a network socket while loading \(socket\.bind\)/.test(JSON.parse(readFileSync(file, "utf8")).dropped.net_dep ?? "");
    } catch {
      return false;
    }
  });
});

test("a root whose package exits while a template loads it (sys.exit in its __init__) is dropped, and the template serves the tool without it", async () => {
  // Looking for the file of the root that failed imports its package again,
  // which exits again: that SystemExit used to end the template before
  // `ready`, every time, until warm gave up on the tool.
  const { python, script } = venvWithPackage(w.dir, w.work, "exitpkg", "exit_cli.py");
  const direct = w.run([python, script], { direct: true });
  assert.equal(direct.stdout.toString(), "sub ok [1]\n", direct.stderr.toString());
  let warm = 0;
  for (let i = 0; i < 6; i++) {
    const before = w.status()?.runs ?? 0; // no daemon before the first run
    same(w.run([python, script]), direct, `run ${i}`);
    if (w.status()!.runs > before) warm++;
    if (i < 5) await w.ready();
  }
  const last = w.status()!;
  assert.ok(warm >= 4, `most runs warm (${warm} of 6; pools: ${JSON.stringify(last.pools)})`);
  const file = join(w.stateDir, "preload", `${PreloadStore.toolId(pythonToolId({ interpreterReal: realpathSync(python), mode: "script", target: script }))}.json`);
  await w.until("exitpkg.sub to be recorded as dropped", () => {
    try {
      return /opened a network socket while loading/.test(JSON.parse(readFileSync(file, "utf8")).dropped["exitpkg.sub"] ?? "");
    } catch {
      return false; // not saved yet: the daemon saves in batches
    }
  });
});
