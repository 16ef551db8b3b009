// Paced runs of the 300-module CLI, fork, spawn and direct taking turns
// (one private daemon per mode): each warm run after its pool is ready and
// a pause, as a person typing. Prints, per mode, the wall time seen by this
// process (median, min), the shim's own steps (WARM_DEBUG: request sent,
// `started`, `exit`) and, with PERFSTAT (perf stat events, e.g.
// "task-clock,page-faults"), the serving process's CPU time and faults per
// run, from `perf stat -p` on the waiting process. Takes turns rather than
// running one mode after the other, so that a load that drifts over minutes
// (a shared machine) falls on every mode alike. It prints; it writes nothing.
//   npx tsx bench/paced-pairs.ts [rounds]   PAUSE=ms (default 1000), MODES=fork,spawn
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { existsSync } from "node:fs";
import { generateCli } from "./lib/generate-cli";
import { quantile } from "./lib/hyperfine";
import { WarmInstance } from "./lib/warm-instance";

const REPO = process.cwd();
const rounds = Number(process.argv[2] ?? 10);
const pauseMs = Number(process.env.PAUSE ?? 1000);
const modes = (process.env.MODES ?? "fork,spawn").split(",");
const CLI_DIR = "bench/out/cli300";
const cli = ["node", `${CLI_DIR}/cli.js`];

/** perf stat on `pid` until it ends or is stopped: "event=value" pairs. */
function perfStat(pid: number, events: string): { proc: ChildProcess; out: () => string } {
  let text = "";
  const proc = spawn("perf", ["stat", "-x", ",", "-e", events, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  proc.stderr!.on("data", (d) => (text += d));
  return {
    proc,
    out: () =>
      text
        .trim()
        .split("\n")
        .map((l) => l.split(","))
        .filter((f) => f.length > 2)
        .map((f) => `${f[2]}=${f[0]}`)
        .join(" "),
  };
}

async function main(): Promise<void> {
  if (!existsSync(`${CLI_DIR}/cli.js`)) generateCli(CLI_DIR);
  const insts = new Map<string, WarmInstance>();
  const times = new Map<string, number[]>([["direct", []]]);
  const steps = new Map<string, number[][]>();
  const stats = new Map<string, string[]>();
  try {
    for (const m of modes) {
      process.env.BENCH_NODE_MODE = m; // read by WarmInstance
      const inst = new WarmInstance(REPO, m);
      insts.set(m, inst);
      await inst.start();
      await inst.learn([inst.warm, ...cli], 6);
      times.set(m, []);
      steps.set(m, []);
      stats.set(m, []);
    }
    for (let r = 0; r < rounds; r++) {
      for (const m of [...modes, "direct"]) {
        for (const inst of insts.values()) await inst.waitReady(); // no mode's replacement still starting
        await sleep(pauseMs);
        if (m === "direct") {
          const res = insts.get(modes[0])!.runWith(cli, process.env);
          if (res.status !== 0) throw new Error(res.stderr);
          times.get("direct")!.push(res.ms);
          continue;
        }
        const inst = insts.get(m)!;
        let perf: ReturnType<typeof perfStat> | undefined;
        if (process.env.PERFSTAT) {
          const pids = inst.status()!.pools.flatMap((p) => p.pids);
          perf = perfStat(pids[pids.length - 1], process.env.PERFSTAT); // the waiting process is listed last
          await sleep(300); // perf attached
        }
        const res = inst.runWith([inst.warm, ...cli], { ...inst.env, WARM_DEBUG: "1" });
        if (res.status !== 0) throw new Error(res.stderr);
        times.get(m)!.push(res.ms);
        const at = [...res.stderr.matchAll(/^warm\[\d+\] \+([\d.]+)ms (?:sent run|started|exit)\b/gm)].map((x) => Number(x[1]));
        if (at.length === 3) steps.get(m)!.push([at[0], at[1] - at[0], at[2] - at[1]]);
        if (perf) {
          await sleep(100);
          perf.proc.kill("SIGINT"); // gone already if the process ended
          await new Promise((resolve) => (perf.proc.exitCode !== null ? resolve(null) : perf.proc.on("close", resolve)));
          stats.get(m)!.push(perf.out());
        }
      }
    }
  } finally {
    for (const inst of insts.values()) {
      await inst.stop();
      inst.remove();
    }
  }
  const ms = (v: number) => v.toFixed(2);
  for (const [m, t] of times) {
    let line = `${m.padEnd(6)} p50 ${ms(quantile(t, 0.5))} min ${ms(Math.min(...t))} ms`;
    const s = steps.get(m);
    if (s && s.length > 0) line += `; shim: sent ${ms(quantile(s.map((x) => x[0]), 0.5))}, sent->started ${ms(quantile(s.map((x) => x[1]), 0.5))}, started->exit ${ms(quantile(s.map((x) => x[2]), 0.5))}`;
    console.log(line);
  }
  for (const [m, lines] of stats) {
    if (lines.length === 0) continue;
    const events = process.env.PERFSTAT!.split(",");
    const parts = events.map((e) => {
      const v = lines.map((l) => Number(new RegExp(`${e}=([\\d.]+)`).exec(l)?.[1])).filter((x) => Number.isFinite(x));
      return v.length ? `${e} p50 ${quantile(v, 0.5).toFixed(2)} (${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)})` : `${e} -`;
    });
    console.log(`${m.padEnd(6)} serving process per run: ${parts.join(", ")}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
