// Coprocesses that break the protocol (test/fixtures/coprocess/bad.py): the
// caller gets a direct run when nothing had started, or a clear error after;
// never a hang, never a second run; the daemon keeps serving.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { same } from "./helpers/compare";
import { buildC, COPROCESS_DIR } from "./helpers/coprocess";
import { alive, fixture, PYTHON, WarmEnv } from "./helpers/warm-env";

const BAD = fixture("coprocess/bad.py");
const C_EXAMPLE = join(COPROCESS_DIR, "c", "example");
const BEFORE = ["silent", "malformed", "garbage", "wrong-pid", "wrong-version", "dies-before-taken", "hangs-before-taken", "garbage-after-hello", "unknown-type-after-hello", "wrong-taken-pid", "unknown-type-on-run-link"];
const AFTER = ["crashes-mid-run", "garbage-on-run-link", "parent-dies-mid-run", "serial-drops-run-link"];
const OTHER = ["stays-after-eof"];

let w: WarmEnv;
let bin: string;
let log: string;
before(() => {
  buildC();
  w = new WarmEnv();
  bin = join(w.dir, "bin");
  mkdirSync(bin);
  log = join(w.dir, "runs.log");
  const tools: Record<string, object> = { example: { coprocess: {} } };
  for (const how of [...BEFORE, ...AFTER, ...OTHER]) {
    symlinkSync(BAD, join(bin, `bad-${how}`));
    tools[`bad-${how}`] = { coprocess: { command: [PYTHON, BAD, how] } };
  }
  w.writeConfig({ preloadTimeoutSeconds: 1, tools });
});
after(async () => {
  await w.stop();
});

/** The lines the tool wrote to the run log since `from` (one per time it ran). */
function ranSince(from: number): string[] {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch {
    // none yet
  }
  return text.split("\n").filter(Boolean).slice(from);
}

function runsSoFar(): number {
  return ranSince(0).length;
}

/** The daemon still serves: a good coprocess runs warm. */
function stillServes(): void {
  const before = w.status()!.runs;
  const r = w.run([C_EXAMPLE, "fine"]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /arg fine/);
  assert.equal(w.status()!.runs, before + 1, "the good coprocess ran warm");
}

test("a good coprocess is ready", async () => {
  writeFileSync(log, "");
  w.run([C_EXAMPLE]); // learns the names its hello declares (runs directly)
  w.run([C_EXAMPLE]);
  await w.ready("example");
  stillServes();
});

for (const how of BEFORE) {
  test(`before the tool started (${how}): the caller gets a direct run, exactly one`, () => {
    const env = { ...w.env, BAD_LOG: log };
    const tool = join(bin, `bad-${how}`);
    const direct = w.run([tool, "a", "b"], { direct: true, env });
    for (let i = 0; i < 2; i++) {
      const from = runsSoFar();
      const warm = w.run([tool, "a", "b"], { env });
      same(warm, direct, how);
      assert.deepEqual(ranSince(from), ["ran a b"], "ran exactly once");
    }
    stillServes();
  });
}

test("after the tool started: a crash is the caller's signal, garbage on the run link still gives the real status, a status nobody can know (its coprocess died; a serial runner dropped its run link) is a clear error; each ran once", () => {
  const env = { ...w.env, BAD_LOG: log };
  let from = runsSoFar();
  const crash = w.run([join(bin, "bad-crashes-mid-run"), "c"], { env });
  assert.equal(crash.signal, "SIGKILL");
  assert.equal(crash.stdout.toString(), "out c\n");
  assert.deepEqual(ranSince(from), ["ran c"]);

  const tool = join(bin, "bad-garbage-on-run-link");
  w.run([tool, "warm-up"], { env }); // starts the coprocess (its first caller may run directly)
  from = runsSoFar();
  same(w.run([tool, "g"], { env }), w.run([tool, "g"], { env, direct: true }), "garbage on the run link");
  assert.deepEqual(ranSince(from), ["ran g", "ran g"]);

  const lost = join(bin, "bad-parent-dies-mid-run");
  w.run([lost, "warm-up"], { env });
  from = runsSoFar();
  const r = w.run([lost, "p"], { env });
  assert.equal(r.status, 255);
  assert.match(r.stderr.toString(), /^warm: the coprocess running .* could not say how the run ended\n$/);
  assert.equal(r.stdout.toString(), "out p\n");
  assert.deepEqual(ranSince(from), ["ran p"]);

  // A serial runner that closed its run link without `exit` and lives on: killed; its status is nobody's to know.
  const dropped = join(bin, "bad-serial-drops-run-link");
  w.run([dropped, "warm-up"], { env });
  from = runsSoFar();
  const d = w.run([dropped, "s"], { env });
  assert.deepEqual([d.status, d.stdout.toString()], [255, "out s\n"]);
  assert.match(d.stderr.toString(), /^warm: the coprocess running .* could not say how the run ended\n$/);
  assert.deepEqual(ranSince(from), ["ran s"]);
  stillServes();
});

test("a coprocess that stays after the daemon closed its link is killed: warm stop leaves nothing running", async () => {
  const env = { ...w.env, BAD_LOG: log };
  const tool = join(bin, "bad-stays-after-eof");
  w.run([tool, "warm-up"], { env }); // starts the coprocess (its first caller may run directly)
  await w.ready("bad-stays-after-eof");
  const before = w.status()!.runs;
  assert.equal(w.run([tool, "s"], { env }).stdout.toString(), "out s\n");
  assert.equal(w.status()!.runs, before + 1, "it ran warm");
  const daemon = w.status()!.pid;
  const coprocesses = w.status()!.pools.flatMap((p) => p.pids);
  assert.ok(coprocesses.length > 0);
  assert.equal(w.run(["stop"]).status, 0);
  await w.until("the daemon and the coprocess that stays to be gone", () => !alive(daemon) && coprocesses.every((p) => !alive(p)));
});
