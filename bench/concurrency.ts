// Throughput under concurrency: rounds of N callers at once (load.test's
// mix by default: two forms of one Node tool, a shebang Node tool, a shell
// command the daemon answers `direct`), one private daemon per mode (auto:
// these tools fork; spawn), interleaved round by round in one run. Each
// output is checked. With cgroup v1's cpuacct mounted and writable (root),
// each mode's processes (shims, daemon, templates, children, direct runs)
// are in a cgroup of their own, and the CPU time they used per round is
// reported too: on a busy machine the wall time says more about the
// scheduler's share than about the work.
// `npx tsx bench/concurrency.ts [rounds] [at-once]`; BENCH_MODES=auto,spawn; BENCH_ONE=1: one Node tool only.
// Prints its section of bench/results.md; BENCH_WRITE=1 also writes it there (between its markers).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { writeSection } from "./lib/results-section";
import { WarmInstance } from "./lib/warm-instance";

const REPO = resolve(__dirname, "..");
const ROUNDS = Number(process.argv[2] ?? 10);
const AT_ONCE = Number(process.argv[3] ?? 64);
const PROBE = resolve(REPO, "test/fixtures/probe.js");
const SHEBANG = resolve(REPO, "test/fixtures/shebang-tool");
const CPUACCT = "/sys/fs/cgroup/cpuacct";
// BENCH_SHARES=N: the modes' processes also get a cgroup v1 `cpu` group of N shares (1024 is one
// session's worth under autogroup): a stand-in for a quiet machine on a busy one.
const CPU = "/sys/fs/cgroup/cpu";
const SHARES = process.env.BENCH_SHARES;

type Job = (token: string) => [string[], string];
const NODE_TOOL: Job = (t) => [[process.execPath, PROBE, "quiet", "out", t], `${t}\n`];
const JOBS: Job[] = process.env.BENCH_ONE
  ? [NODE_TOOL]
  : [
      NODE_TOOL,
      (t) => [[process.execPath, PROBE, "quiet", "err", t, "out", t], `${t}\n`],
      (t) => [[SHEBANG, t], `shebang tool ["${t}"] node\n`],
      (t) => [["sh", "-c", `echo ${t}`], `${t}\n`],
    ];

/** A cpuacct cgroup: processes started while this process is in it are accounted there. */
class CpuGroup {
  readonly dir: string | null;
  readonly cpuDir: string | null = null;
  constructor(name: string) {
    const dir = join(CPUACCT, name);
    try {
      mkdirSync(dir);
      this.dir = dir;
    } catch {
      this.dir = null;
    }
    if (SHARES) {
      this.cpuDir = join(CPU, name);
      mkdirSync(this.cpuDir);
      writeFileSync(join(this.cpuDir, "cpu.shares"), SHARES);
    }
  }
  enter(): void {
    if (this.dir) writeFileSync(join(this.dir, "cgroup.procs"), String(process.pid));
    if (this.cpuDir) writeFileSync(join(this.cpuDir, "cgroup.procs"), String(process.pid));
  }
  usageMs(): number {
    return this.dir ? Number(readFileSync(join(this.dir, "cpuacct.usage"), "utf8")) / 1e6 : NaN;
  }
  static leave(): void {
    for (const root of [CPUACCT, CPU]) if (existsSync(join(root, "cgroup.procs"))) writeFileSync(join(root, "cgroup.procs"), String(process.pid));
  }
  remove(): void {
    for (const dir of [this.dir, this.cpuDir]) if (dir) rmdirSync(dir); // fails while a process is still in it (reported)
  }
}

function runOne(inst: WarmInstance, token: string, i: number): Promise<void> {
  const [args, want] = JOBS[i % JOBS.length](token);
  return new Promise((ok, fail) => {
    const p = spawn(inst.warm, args, { env: inst.env, cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => (code === 0 && out === want ? ok() : fail(new Error(`${args.join(" ")}: status ${code}, out ${JSON.stringify(out)}, err ${err}`))));
  });
}

async function round(inst: WarmInstance, r: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => runOne(inst, `r${r}-i${i}`, i)));
  return performance.now() - t0;
}

/** CPU time (ms) of the fork-mode pools' templates so far (a pool's helper pid comes first), from /proc (10 ms ticks). */
function templatesCpuMs(inst: WarmInstance): number {
  let ticks = 0;
  for (const p of inst.status()?.pools ?? []) {
    if (!p.mode?.startsWith("fork") || p.pids.length === 0) continue;
    try {
      const stat = readFileSync(`/proc/${p.pids[0]}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");

async function main() {
  const modes = (process.env.BENCH_MODES ?? "auto,spawn").split(",");
  const groups = modes.map((m) => new CpuGroup(`warm-bench-${m}-${process.pid}`));
  const insts = modes.map((m) => {
    process.env.BENCH_NODE_MODE = m;
    return new WarmInstance(REPO, `conc-${m}`);
  });
  const load0 = loadavg()[0];
  const wall: number[][] = modes.map(() => []);
  const cpu: number[][] = modes.map(() => []);
  const tcpu: number[][] = modes.map(() => []);
  try {
    for (let i = 0; i < insts.length; i++) {
      groups[i].enter();
      await insts[i].start();
      // A few of each first (a tool's first runs learn it), then two rounds: every pool in its steady mode and size.
      for (let k = 0; k < 3; k++) for (let j = 0; j < JOBS.length; j++) await runOne(insts[i], `w${k}`, j);
      await round(insts[i], -1);
      await round(insts[i], -2);
    }
    for (let r = 0; r < ROUNDS; r++)
      for (let i = 0; i < insts.length; i++) {
        groups[i].enter();
        const c0 = groups[i].usageMs();
        const t0 = templatesCpuMs(insts[i]);
        wall[i].push(await round(insts[i], r));
        cpu[i].push(groups[i].usageMs() - c0);
        tcpu[i].push(templatesCpuMs(insts[i]) - t0);
      }
    const rows = modes.map((m, i) => {
      const st = insts[i].status();
      const how = st?.pools.map((p) => `${p.tool.replace(/ \[.*\]$/, "")}: ${p.mode}, ${p.hits} hits, ${p.misses} misses`).join("; ");
      const tmpl = tcpu[i].some((t) => t > 0) ? `${median(tcpu[i]).toFixed(0)} ms` : "—";
      return `| ${m} | ${median(wall[i]).toFixed(0)} ms | ${Math.min(...wall[i]).toFixed(0)} ms | ${Number.isNaN(cpu[i][0]) ? "—" : `${median(cpu[i]).toFixed(0)} ms`} | ${tmpl} | ${st?.runs} runs, ${st?.direct} direct; ${how} |`;
    });
    const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).stdout.trim();
    const section = [
      `## Many callers at once: ${AT_ONCE} callers of ${process.env.BENCH_ONE ? "one Node tool" : "load.test's mix"}${SHARES ? `, the bench in a cpu cgroup of ${SHARES} shares (a stand-in for a quiet machine)` : ""}`,
      "",
      `\`bench/concurrency.ts ${ROUNDS} ${AT_ONCE}\`${SHARES ? ` with BENCH_SHARES=${SHARES}` : ""} at commit ${commit}, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load average ${load0.toFixed(1)} before and ${loadavg()[0].toFixed(1)} after (other sessions' work on the same 2 cores). ` +
        `One private daemon per mode, each warmed by 3 runs of each job and 2 rounds; then ${ROUNDS} rounds per mode, the modes taking turns. ` +
        `A round is ${AT_ONCE} shims started at once, ${process.env.BENCH_ONE ? "each running `node test/fixtures/probe.js quiet out <token>`" : "a quarter each running `probe.js quiet out <token>`, `probe.js quiet err <token> out <token>`, `shebang-tool <token>` and `sh -c 'echo <token>'` (answered direct)"}; every output and status is checked. ` +
        "Wall: from the first start to the last exit. CPU: every process of the mode (shims, daemon, templates, children, pre-started processes, direct runs) was in a cpuacct cgroup of its own. Template: the fork-mode templates' own CPU (10 ms ticks).",
      "",
      "| mode | wall per round, median | min | CPU per round, median | template CPU per round | runs |",
      "|---|---:|---:|---:|---:|---|",
      ...rows,
      "",
      `Rounds (ms), wall: ${modes.map((m, i) => `${m} ${fmt(wall[i])}`).join("; ")}. CPU: ${modes.map((m, i) => `${m} ${fmt(cpu[i])}`).join("; ")}.`,
    ].join("\n");
    console.log(section);
    if (process.env.BENCH_WRITE) writeSection(join(REPO, "bench", "results.md"), SHARES ? "bench/concurrency.ts-quiet" : "bench/concurrency.ts", section);
  } finally {
    CpuGroup.leave();
    for (const inst of insts) {
      const { leftover } = await inst.stop();
      if (leftover.length) console.error(`left over: ${leftover.join(" ")}`);
      inst.remove();
    }
    for (const g of groups) {
      try {
        g.remove();
      } catch (e) {
        console.error(`cgroup ${g.dir}: ${(e as Error).message}`);
      }
    }
  }
}
void main();
