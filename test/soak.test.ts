// 10,000 invocations through one daemon: its open fds return to their
// baseline and its memory stays near it. Most runs take the daemon's quick
// path (a command it hands back to run directly: connect, request, reply),
// a share run warm Node scripts end to end.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
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

const TOTAL = sized(10_000, 1000); // helpers/volume.ts
const WARM_EVERY = 20; // one in 20 runs a warm Node script
const AT_ONCE = 8;

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

test(`${TOTAL} invocations: the daemon's fds return to baseline, its memory stays near it`, async () => {
  // The Node pool as it will stay (forking, in a mode that forks: a template's link and its child's), so the fd baseline is its.
  await w.warmed("probe.js", () => w.run([NODE, fixture("probe.js"), "quiet"]));
  // A first batch lets the daemon reach its working size before the baseline.
  // (A script the daemon answers `direct`: a native binary such as `true` would not reach it.)
  const notWarm = fixture("not-warm.sh");
  for (let i = 0; i < 200; i++) await w.runAsync([notWarm]);
  await w.ready();
  const daemon = w.status()!.pid;
  const fds = () => readdirSync(`/proc/${daemon}/fd`).length;
  const baseFds = fds();
  const baseRss = rssKiB(daemon);

  let next = 0;
  const worker = async () => {
    while (next < TOTAL) {
      const i = next++;
      if (i % WARM_EVERY === 0) {
        const r = await w.runAsync([NODE, fixture("probe.js"), "quiet", "out", `soak ${i}`]);
        assert.equal(r.out, `soak ${i}\n`);
      } else {
        const r = await w.runAsync([notWarm, String(i)]);
        assert.equal(r.out, `${i}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  assert.equal(w.status()!.pid, daemon);
  await w.ready();
  await w.until(`the daemon's fds back to ${baseFds} (now ${fds()})`, () => fds() <= baseFds, 30_000);
  const grown = rssKiB(daemon) - baseRss;
  // A leak of 5 KiB per run would pass 48 MiB at full volume (10,000 runs; 33 KiB per run at 1500);
  // garbage not yet collected stays well under it.
  assert.ok(grown < 48 * 1024, `daemon RSS grew by ${grown} KiB over ${TOTAL} runs`);
  process.stdout.write(`# daemon RSS ${baseRss} KiB -> ${rssKiB(daemon)} KiB, fds ${baseFds} -> ${fds()}\n`);
});
