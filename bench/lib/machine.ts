// What the numbers were measured on.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";

export interface Machine {
  cpu: string;
  nproc: number;
  memory: string;
  kernel: string;
  node: string;
  hyperfine: string;
  /** bin/warm --version and the repository's commit (the build measured may include uncommitted work). */
  warm: string;
  date: string;
  load: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

function memory(): string {
  try {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? `${(Number(m[1]) / 1024 / 1024).toFixed(1)} GiB` : "unknown";
  } catch {
    return "unknown";
  }
}

function nproc(): number {
  try {
    return Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {
    return availableParallelism();
  }
}

function warmBuild(repo: string): string {
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "";
    }
  };
  const version = run(`${repo}/bin/warm`, ["--version"]) || "warm (version unknown)";
  const commit = run("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"]) !== "";
  const built = commit ? `${version}, commit ${commit}${dirty ? " plus uncommitted changes" : ""}` : version;
  return `${built}; Node tools served with WARM_NODE_MODE=${nodeMode()}`;
}

export function describeMachine(hyperfine: string, repo: string): Machine {
  return {
    cpu: cpuModel(),
    nproc: nproc(),
    memory: memory(),
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    node: process.version,
    hyperfine,
    warm: warmBuild(repo),
    date: new Date().toISOString(),
    load: loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
  };
}

/** How the benchmark's daemons serve Node tools (BENCH_NODE_MODE, default auto: fork cheap runs, spawn costly ones). */
export function nodeMode(): string {
  return process.env.BENCH_NODE_MODE ?? "auto";
}
