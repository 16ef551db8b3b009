// Fork or spawn, per Node tool. A child forked from a template starts in
// about a millisecond but runs single-threaded V8 (no concurrent GC or
// compilation threads), which makes long CPU-heavy runs slower (a 1.4 s
// tsc run took 2.4 s); a pre-started process costs a whole node start-up
// per run, which back to back competes with the runs themselves. So warm
// learns what a tool's runs cost (CPU time, as each run reports it) and
// forks the cheap ones ("auto", the default). A tool's config ("mode") or
// WARM_NODE_MODE in the daemon's environment ("fork", "spawn", "auto")
// decides otherwise.

export type Mode = "fork" | "spawn";

/** Runs above this much CPU time (a moving average, ms) are served by spawned processes. */
export const FORK_MAX_CPU_MS = 400;
// Weight of the newest run in the average.
const WEIGHT = 0.3;

export interface ModeChoice {
  mode: Mode;
  why: string;
}

export class NodeModes {
  private costMs = new Map<string, number>();
  private cannotFork = new Map<string, string>();

  constructor(private readonly forced: Mode | "auto" = envMode()) {}

  /** `learning`: the tool's first runs, which learn what it loads (ES modules only through hooks on a thread, which a template cannot have). */
  choose(toolId: string, configured: Mode | undefined, learning: boolean): ModeChoice {
    if (configured === "spawn" || (!configured && this.forced === "spawn")) return { mode: "spawn", why: configured ? "set in the config" : "WARM_NODE_MODE=spawn" };
    if (learning) return { mode: "spawn", why: "learning what it loads" };
    if (configured) return { mode: configured, why: "set in the config" };
    const cannot = this.cannotFork.get(toolId);
    if (cannot) return { mode: "spawn", why: `cannot fork: ${cannot}` };
    if (this.forced === "fork") return { mode: "fork", why: "WARM_NODE_MODE=fork" };
    const ms = this.costMs.get(toolId);
    if (ms === undefined) return { mode: "spawn", why: "learning what its runs cost" };
    const cost = `runs take ~${Math.round(ms)} ms of CPU`;
    return ms > FORK_MAX_CPU_MS ? { mode: "spawn", why: `${cost} (multi-threaded V8 is faster)` } : { mode: "fork", why: cost };
  }

  /** A run of this tool took `us` of CPU time. */
  noteCost(toolId: string, us: number): void {
    const ms = us / 1000;
    const before = this.costMs.get(toolId);
    this.costMs.set(toolId, before === undefined ? ms : before + WEIGHT * (ms - before));
  }

  /** Its template cannot fork safely (a module started a thread, async work in flight): spawned processes from now on. */
  noteCannotFork(toolId: string, why: string): void {
    this.cannotFork.set(toolId, why);
  }
}

function envMode(): Mode | "auto" {
  const v = process.env.WARM_NODE_MODE;
  return v === "fork" || v === "spawn" ? v : "auto";
}
