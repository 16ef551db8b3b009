// chg, Mercurial's own command server client (Debian's mercurial package
// ships it), the peer for the Mercurial cases: its server is started by a
// first `chg` run before timing and killed after, inside the case's private
// XDG_RUNTIME_DIR (where chg keeps its socket), so no chg of the user's is touched.
import { setTimeout as sleep } from "node:timers/promises";
import { findPeers, waitGone } from "./peer-processes";
import { runCaptured } from "./warm-instance";

export class Chg {
  private pids = new Map<number, string>();

  constructor(private readonly repo: string, private readonly env: NodeJS.ProcessEnv) {}

  /** Starts chg's server (a first run does) and returns its pids. */
  async start(timeoutMs = 15_000): Promise<number[]> {
    const r = runCaptured(["chg", "version", "-q"], this.repo, this.env);
    if (r.status !== 0) throw new Error(`chg version -q failed (status ${r.status}): ${r.stderr}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = this.find();
      if (pids.length > 0) return pids;
      if (Date.now() > deadline) throw new Error(`chg's server was not found within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** chg's servers of this case: processes whose environment names its runtime dir and whose command line is a chg server. */
  find(): number[] {
    const found = findPeers(`XDG_RUNTIME_DIR=${this.env.XDG_RUNTIME_DIR}\0`, (cmd) => cmd.includes("chgunix"));
    for (const [pid, cmd] of found) this.pids.set(pid, cmd);
    return [...found.keys()];
  }

  /** `chg --kill-chg-daemon`; returns its pids still alive after a bounded wait. */
  async stop(timeoutMs = 5_000): Promise<number[]> {
    runCaptured(["chg", "--kill-chg-daemon"], this.repo, this.env);
    const left = await waitGone(this.pids, timeoutMs);
    for (const pid of left) process.kill(pid, "SIGKILL");
    return left;
  }
}
