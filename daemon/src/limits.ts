// The global limits on warm processes, across every runtime's pools: a
// count and a memory budget, where ready processes of the least recently
// used other pools make room; and a pool's own memory limit.
import type { Config } from "./config";
import type { Pool } from "./pool";

export class Limits {
  /** Invocations running now (their processes count against the limits too). */
  running = 0;

  constructor(private readonly config: () => Config, private readonly pools: () => Pool[]) {}

  canStartMore(asking: Pool, poolLimitMB: number): boolean {
    const config = this.config();
    const poolLimit = poolLimitMB * 1024;
    const expected = asking.expectedKiB;
    if (poolLimit > 0 && asking.readyKiB + asking.startingCount * expected + expected > poolLimit) return false;
    const over = () => {
      let count = this.running;
      let kib = 0;
      for (const pool of this.pools()) {
        count += pool.readyCount + pool.startingCount;
        kib += pool.readyKiB + pool.startingCount * pool.expectedKiB;
      }
      return count >= config.maxWarmProcesses || (config.maxMemoryMB > 0 && kib + expected > config.maxMemoryMB * 1024);
    };
    while (over()) {
      const victim = this.pools().filter((p) => p !== asking && p.readyCount > 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim?.evictOne()) return false;
    }
    return true;
  }
}
