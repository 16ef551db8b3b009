// prettierd, the peer daemon for the formatting case: started once before
// timing, stopped after, inside the case's private XDG_RUNTIME_DIR (where
// prettierd keeps its port file), so no prettierd of the user is touched.
import { setTimeout as sleep } from "node:timers/promises";
import { findPeers, waitGone } from "./peer-processes";
import { runCaptured } from "./warm-instance";

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
    const found = findPeers(`XDG_RUNTIME_DIR=${this.env.XDG_RUNTIME_DIR}/.prettierd\0`);
    for (const [pid, cmd] of found) this.pids.set(pid, cmd);
    return [...found.keys()];
  }

  /** `prettierd stop`; returns its pids still alive after a bounded wait. */
  async stop(timeoutMs = 5_000): Promise<number[]> {
    this.cli(["stop"]);
    return waitGone(this.pids, timeoutMs);
  }
}
