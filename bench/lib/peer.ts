// prettierd, the peer daemon for the formatting case: started once before
// timing, stopped after, inside the case's private XDG_RUNTIME_DIR (where
// prettierd keeps its port file), so no prettierd of the user is touched.
import { readFileSync, readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { alive, runCaptured } from "./warm-instance";

export const PRETTIERD = "node_modules/.bin/prettierd";

export class Prettierd {
  private pids = new Map<number, string>();

  constructor(private readonly repo: string, private readonly env: NodeJS.ProcessEnv) {}

  private cli(args: string[]): string {
    const r = runCaptured([PRETTIERD, ...args], this.repo, this.env);
    if (r.status !== 0) throw new Error(`prettierd ${args.join(" ")} failed (status ${r.status}): ${r.stderr}`);
    return r.stdout.trim();
  }

  /** `prettierd start`, then waits (bounded) until `prettierd status` says Running and its process is found. */
  async start(timeoutMs = 15_000): Promise<number[]> {
    this.cli(["start"]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.cli(["status"]) === "Running") {
        const pids = this.find();
        if (pids.length > 0) return pids;
      }
      if (Date.now() > deadline) throw new Error(`prettierd did not start within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Our prettierd server: the process whose environment names our private runtime dir. */
  find(): number[] {
    const marker = `XDG_RUNTIME_DIR=${this.env.XDG_RUNTIME_DIR}/.prettierd\0`;
    const found: number[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      try {
        if (!readFileSync(`/proc/${name}/environ`, "utf8").includes(marker)) continue;
        const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
        this.pids.set(Number(name), cmd);
        found.push(Number(name));
      } catch {
        // gone, or not ours to read
      }
    }
    return found;
  }

  /** `prettierd stop`; returns its pids still alive after a bounded wait. */
  async stop(timeoutMs = 5_000): Promise<number[]> {
    this.cli(["stop"]);
    const deadline = Date.now() + timeoutMs;
    let left = [...this.pids].filter(([pid, cmd]) => alive(pid, cmd)).map(([pid]) => pid);
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(20);
      left = left.filter((pid) => alive(pid, this.pids.get(pid)!));
    }
    return left;
  }
}
