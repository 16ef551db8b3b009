// Zero-config preloading: warm learns what a tool loads and has it loaded
// before the next run, but never a module that would then run with stale
// per-invocation state. Every run, however warm, matches a direct run.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { savedRecord } from "./helpers/tool-tree";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const cli = fixture("learn/cli.js");

interface Seen {
  preloadedAtStart: string[];
  esmAtStart: boolean;
}

/** Runs the tool warm and directly with the same inputs; stdout and status must match. */
function runBoth(args: string[], mode: string | undefined, cwd: string): Seen {
  const env = { ...w.env };
  if (mode === undefined) delete env.LEARN_MODE;
  else env.LEARN_MODE = mode;
  const direct = w.run([NODE, cli, ...args], { direct: true, env, cwd });
  const warm = w.run([NODE, cli, ...args], { env, cwd });
  assert.equal(warm.stdout.toString(), direct.stdout.toString(), `stdout for ${args.join(" ")} LEARN_MODE=${mode}`);
  assert.equal(warm.status, direct.status);
  assert.equal(warm.stdout.toString().split("noisy module loaded").length, 2, "the noisy module printed exactly once");
  const lines = warm.stderr.toString().trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Seen;
}

test("learned modules are preloaded; those that capture argv or output are not; env, argv questions and cwd read while loading join the key", async () => {
  const dirs = ["one", "two"].map((d) => join(w.work, d));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const variants: [string[], string | undefined, string][] = [
    [["--x", "plain"], "fast", dirs[0]],
    [["--y", "--color"], "slow", dirs[1]],
    [[], undefined, dirs[0]],
    [["--x"], "fast", dirs[1]],
    [["--color"], "fast", dirs[0]],
  ];
  let seen: Seen = { preloadedAtStart: [], esmAtStart: false };
  // Each run teaches warm something; within a few runs it has converged.
  for (let round = 0; round < 8; round++) {
    for (const [args, mode, cwd] of variants) {
      seen = runBoth(args, mode, cwd);
      await w.ready();
    }
  }
  const last = runBoth(["--x", "plain"], "fast", dirs[0]);
  seen = last;
  assert.deepEqual(
    seen.preloadedAtStart,
    ["a.js", "b.js", "c.js", "color-flag.js", "cwd-reader.js", "env-reader.js", "tty-check.js"],
    "safe CommonJS modules were preloaded, with those that ask argv, isTTY or cwd",
  );
  assert.equal(seen.esmAtStart, true, "the ES module was preloaded");

  // What warm learned is kept in the state dir, with the reasons.
  const record = await savedRecord(w, "/learn/lib/a.js");
  const dropped = Object.entries(record.dropped as Record<string, string>).map(([id, why]) => [id.split("/lib/")[1], why]);
  assert.deepEqual(
    dropped.filter(([id]) => id).sort(),
    [
      ["argv-reader.js", "read process.argv (filter) while loading"],
      ["noisy.js", "used process.stdout.write while loading"],
    ],
  );
  assert.ok(record.envNames.includes("LEARN_MODE"));
  assert.deepEqual(record.argvQuestions, [["includes", "--color"]]);
  assert.equal(record.usesCwd, true);
});
