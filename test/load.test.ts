// 64 invocations at once of mixed tools, 20 times over: every result is
// right (each carries its own token, so crossed output would show), nothing
// deadlocks, and the daemon's open fds return to where they were.
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sized } from "./helpers/volume";
import { fixture, NODE, WarmEnv } from "./helpers/warm-env";

let w: WarmEnv;
before(() => {
  w = new WarmEnv();
});
after(async () => {
  await w.stop();
});

const ROUNDS = sized(20, 2); // helpers/volume.ts
const AT_ONCE = 64;

interface Job {
  args: string[];
  expect: (token: string) => string;
}

test(`${AT_ONCE} mixed invocations at once, ${ROUNDS} times: all correct, no crossed output, fds back to baseline`, async () => {
  const bin = join(w.dir, "bin");
  mkdirSync(bin, { recursive: true });
  copyFileSync(fixture("shebang-tool"), join(bin, "shebang-tool"));
  chmodSync(join(bin, "shebang-tool"), 0o755);
  const env = { ...w.env, PATH: `${bin}:${w.env.PATH}` };
  const jobs: Job[] = [
    { args: [NODE, fixture("probe.js"), "quiet", "out", "T"], expect: (t) => `${t}\n` },
    { args: [NODE, fixture("probe.js"), "quiet", "err", "T", "out", "T"], expect: (t) => `${t}\n` },
    { args: ["shebang-tool", "T"], expect: (t) => `shebang tool ["${t}"] node\n` },
    { args: ["sh", "-c", "echo T"], expect: (t) => `${t}\n` }, // not Node: the daemon sends it back direct
  ];
  // A few of each first: the daemon and every tool's pool exist, in their steady mode
  // (a tool's first runs are never forked; a template holds a link of its own), before the baseline.
  for (let i = 0; i < 3; i++) for (const job of jobs) assert.equal((await w.runAsync(job.args, { env })).code, 0);
  await w.ready();
  const daemon = w.status()!.pid;
  const fdCount = () => readdirSync(`/proc/${daemon}/fd`).length;
  const baseline = fdCount();

  for (let round = 0; round < ROUNDS; round++) {
    const batch = Array.from({ length: AT_ONCE }, (_, i) => {
      const job = jobs[i % jobs.length];
      const token = `r${round}-i${i}-${Math.random().toString(36).slice(2, 8)}`;
      return w.runAsync(job.args.map((a) => (a === "T" ? token : a.replace(" T", ` ${token}`))), { env }).then((r) => ({ r, job, token }));
    });
    for (const { r, job, token } of await Promise.all(batch)) {
      assert.equal(r.code, 0, `${token}: ${r.err}`);
      assert.equal(r.out, job.expect(token), token);
      if (job.args.includes("err")) assert.equal(r.err, `${token}\n`, token);
    }
  }
  assert.equal(w.status()!.pid, daemon, "one daemon served it all");
  await w.ready();
  await w.until(`the daemon's fds back to ${baseline} (now ${fdCount()})`, () => fdCount() <= baseline, 30_000);
});
