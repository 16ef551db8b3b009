// The global limits on warm processes, across every runtime's pools: a
// count and a memory budget over every kind of warm process (ready and
// starting ones, Python templates, and the processes of runs in flight),
// where idle ones of the least recently used other pools make room (ready
// processes, then a pool's idle template with it); and a pool's own memory
// limit.
import type { Config } from "./config";
import type { Pool } from "./pool";

export class Limits {
  /** Invocations running now (their processes count against the limits too). */
  running = 0;

  constructor(
    private readonly config: () => Config,
    private readonly pools: () => Pool[],
    /** Processes outside every pool that still count (a let-go template whose children still run). */
    private readonly others: () => { count: number; kib: number } = () => ({ count: 0, kib: 0 }),
  ) {}

  /** How many warm processes there are now, and their memory (KiB). */
  usage(): { count: number; kib: number } {
    let { count, kib } = this.others();
    count += this.running;
    for (const pool of this.pools()) {
      const helpers = pool.helpers;
      count += pool.processCount + helpers.count;
      kib += pool.readyKiB + pool.startingProcesses * pool.expectedKiB + helpers.kib;
    }
    return { count, kib };
  }

  /** Whether `asking` may start `processes` more (a child whose template must start first is two), evicting least recently used idle ones of other pools to make room. */
  canStartMore(asking: Pool, poolLimitMB: number, processes = 1): boolean {
    const config = this.config();
    const poolLimit = poolLimitMB * 1024;
    const expected = asking.expectedKiB;
    if (poolLimit > 0 && asking.readyKiB + asking.startingProcesses * expected + expected > poolLimit) return false;
    const over = () => {
      const { count, kib } = this.usage();
      return count + processes > config.maxWarmProcesses || (config.maxMemoryMB > 0 && kib + expected > config.maxMemoryMB * 1024);
    };
    while (over()) {
      const victim = this.pools().filter((p) => p !== asking && p.canGiveWay).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim?.evictOne()) return false;
    }
    return true;
  }
}
