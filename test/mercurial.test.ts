// The real workload: a scripted Mercurial session (Debian's `mercurial`
// package) gives byte-identical output and statuses through `warm hg` and
// plain `hg`. Both sessions run in the same directory path, one after the
// other, so paths and hashes in the output match.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { WARM, WarmEnv } from "./helpers/warm-env";

const HG = spawnSync("sh", ["-c", "command -v hg"], { encoding: "utf8" }).stdout.trim();

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

interface Step {
  args: string[];
  input?: string;
  /** Files to write before the step (relative to the repo). */
  write?: Record<string, string>;
}

const COMMIT = ["-d", "0 0", "-u", "test"];
const SESSION: Step[] = [
  { args: ["init", "repo"] },
  { args: ["add"], write: { a: "one\ntwo\nthree\n", b: "bee\n", "dir/c": "sea\n" } },
  { args: ["status"] },
  { args: ["commit", "-m", "first", ...COMMIT] },
  { args: ["status"], write: { a: "one\nTWO\nthree\n", d: "new\n" } },
  { args: ["diff", "--git"] },
  { args: ["add", "d"] },
  { args: ["commit", "-m", "second", ...COMMIT] },
  { args: ["log"] },
  { args: ["update", "0"] },
  { args: ["commit", "-m", "other head", ...COMMIT], write: { a: "one\n2\nthree\n" } },
  { args: ["heads", "-T", "{rev}:{node|short} {desc}\n"] },
  { args: ["merge", "--tool", "internal:merge"] },
  { args: ["resolve", "--list"] },
  { args: ["status", "--all"] },
  { args: ["resolve", "--mark", "a"], write: { a: "one\nmerged\nthree\n" } },
  { args: ["commit", "-l", "-", ...COMMIT], input: "merge, message from stdin\n\nwith a body\n" },
  { args: ["log", "-G", "-T", "{rev} {desc|firstline} {files}\n"] },
  { args: ["cat", "-r", "1", "a", "d"] },
  { args: ["nosuchcommand"] },
  { args: ["update", "nosuchrev"] },
  { args: ["cat", "nosuchfile"] },
  { args: ["commit", "-m", "nothing", ...COMMIT] },
  { args: ["summary"] },
  { args: ["version", "-q"] },
  { args: ["root"] },
  { args: ["files"] },
  { args: ["config", "ui.username"] },
];

interface Outcome {
  args: string;
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function session(viaWarm: boolean): Outcome[] {
  const top = join(w.dir, "hg-session");
  rmSync(top, { recursive: true, force: true });
  mkdirSync(top, { recursive: true });
  const env = { ...w.env, HOME: top, HGUSER: "test", LANG: "C.UTF-8" };
  const out: Outcome[] = [];
  for (const step of SESSION) {
    const cwd = step.args[0] === "init" ? top : join(top, "repo");
    for (const [file, text] of Object.entries(step.write ?? {})) {
      mkdirSync(join(cwd, file, ".."), { recursive: true });
      writeFileSync(join(cwd, file), text);
    }
    const r = spawnSync(viaWarm ? WARM : HG, viaWarm ? ["hg", ...step.args] : step.args, { cwd, env, input: step.input ?? "", encoding: "latin1", timeout: 60_000 });
    out.push({ args: step.args.join(" "), status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
  }
  return out;
}

test("a Mercurial session through warm matches plain hg byte for byte", { skip: HG ? false : "mercurial is not installed (apt-get install mercurial)" }, async () => {
  const direct = session(false);
  assert.ok(direct.some((o) => o.status === 1 && o.stderr.includes("conflicts while merging")), "the merge conflicts");
  assert.ok(direct.some((o) => o.status === 255 && o.stderr.includes("unknown command")), "an unknown command");
  assert.ok(direct.some((o) => o.status === 255 && o.stderr.includes("abort:")), "an abort");
  // Three times: the first learns hg's modules, later ones run on a template that preloaded them.
  for (let round = 0; round < 3; round++) {
    const before = w.status()?.runs ?? 0;
    const warm = session(true);
    for (let i = 0; i < direct.length; i++) assert.deepEqual(warm[i], direct[i], `round ${round}, hg ${direct[i].args}`);
    // While learning, a run may find its pool replaced (hg's modules read HGENCODING and friends, which join the key) and run directly.
    if (round > 0) assert.equal((w.status()?.runs ?? 0) - before, SESSION.length, "every step ran warm");
    await w.ready();
  }
});
