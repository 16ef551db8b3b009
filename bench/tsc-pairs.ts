// tsc --noEmit direct against warm, interleaved pair by pair (hyperfine runs
// all of one row, then the other: a load that drifts over minutes shows as a
// difference between rows). Before each run: a pause, and the warm pool has a
// ready process and none starting. Each run's wall time is taken by this
// process (the shim's included). Prints a summary; writes nothing.
// `npx tsx bench/tsc-pairs.ts [pairs]`; BENCH_SETSID=1 runs each direct run in
// a session of its own (as a warm process is); BENCH_SHARES=N puts the whole
// bench in a cgroup v1 `cpu` group of N shares (a stand-in for a quiet machine).
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { WarmInstance } from "./lib/warm-instance";

const REPO = resolve(__dirname, "..");
const PAIRS = Number(process.argv[2] ?? 8);
const TSC = ["node_modules/.bin/tsc", "--noEmit", "-p", "bench/fixtures/tsproject"];
const SHARES = process.env.BENCH_SHARES;
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 1500);

function timed(argv: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: status ${r.status} ${r.stdout} ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");

async function main() {
  let cg: string | null = null;
  if (SHARES) {
    cg = `/sys/fs/cgroup/cpu/warm-bench-tsc-${process.pid}`;
    mkdirSync(cg);
    writeFileSync(join(cg, "cpu.shares"), SHARES);
    writeFileSync(join(cg, "cgroup.procs"), String(process.pid));
  }
  const inst = new WarmInstance(REPO, "tsc-pairs");
  const load0 = loadavg()[0];
  const direct: number[] = [];
  const warm: number[] = [];
  try {
    await inst.start();
    await inst.learn([inst.warm, ...TSC], 3);
    const mode = inst.status()?.pools[0]?.mode;
    const directArgv = process.env.BENCH_SETSID ? ["setsid", "-w", ...TSC] : TSC;
    for (let i = 0; i < PAIRS; i++) {
      await inst.waitReady(60_000);
      await sleep(PAUSE_MS);
      direct.push(timed(directArgv, inst.env));
      await inst.waitReady(60_000);
      await sleep(PAUSE_MS);
      warm.push(timed([inst.warm, ...TSC], inst.env));
    }
    const s = inst.status();
    const p = s?.pools[0];
    console.log(`tsc --noEmit, ${PAIRS} pairs (direct${process.env.BENCH_SETSID ? " in a session of its own" : ""}, then warm), ${PAUSE_MS} ms pause and a ready pool before each${SHARES ? `, cpu.shares ${SHARES}` : ""}; load average ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
    console.log(`pool: ${mode}; hits ${p?.hits} misses ${p?.misses}; direct runs ${s?.direct}`);
    console.log(`direct: median ${median(direct).toFixed(0)} ms (${fmt(direct)})`);
    console.log(`warm:   median ${median(warm).toFixed(0)} ms (${fmt(warm)})`);
    console.log(`warm/direct per pair: ${warm.map((w, i) => (w / direct[i]).toFixed(2)).join(" ")}; ratio of medians ${(median(direct) / median(warm)).toFixed(2)}x`);
  } finally {
    const { leftover } = await inst.stop();
    if (leftover.length) console.error(`left over: ${leftover.join(" ")}`);
    inst.remove();
    if (cg) {
      writeFileSync("/sys/fs/cgroup/cpu/cgroup.procs", String(process.pid));
      await sleep(200);
      rmdirSync(cg);
    }
  }
}
void main();
