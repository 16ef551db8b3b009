// What every runtime does with its pools alike: one per key, each with its
// context; dropped when files they loaded change, when idle too long, or
// when the daemon stops; bounded by the shared limits.
import { ChangeWatch } from "../change-watch";
import type { Config, ToolSettings } from "../config";
import type { Limits } from "../limits";
import type { Logger } from "../log";
import type { Pool } from "../pool";
import type { PreloadStore } from "../preload-store";

export abstract class RuntimePools<Context extends { toolId: string; settings: ToolSettings }> {
  readonly pools = new Map<string, Pool>();
  protected contexts = new WeakMap<Pool, Context>();
  protected readonly changes: ChangeWatch;

  constructor(
    protected readonly store: PreloadStore,
    protected readonly log: Logger,
    protected readonly config: () => Config,
    private readonly limits: Limits,
  ) {
    this.changes = new ChangeWatch(
      (tools) => this.invalidate(tools),
      (why) => log.warn({ why }, "change watch"),
    );
  }

  /** Applies every file change that happened before now (call first thing per request). */
  catchUp(): void {
    this.changes.drain();
  }

  /** Lets a pool go: its idle processes end, running ones finish their invocation. */
  protected drop(key: string, pool: Pool): void {
    pool.close();
    if (this.pools.get(key) === pool) this.pools.delete(key);
  }

  /** Drops the pools of tools whose files changed; the next request starts fresh ones. */
  private invalidate(tools: Set<string> | "all"): void {
    for (const [key, pool] of this.pools) {
      const ctx = this.contexts.get(pool);
      if (tools !== "all" && (!ctx || !tools.has(ctx.toolId))) continue;
      this.drop(key, pool);
      this.log.info({ tool: pool.label }, "files changed: warm processes dropped");
    }
  }

  canStartMore(asking: Pool): boolean {
    return this.limits.canStartMore(asking, this.contexts.get(asking)?.settings.pool.maxMemoryMB ?? 0);
  }

  noteRun(toolId: string): void {
    this.store.noteRun(toolId);
  }

  /** Drops pools unused for their idle timeout. */
  sweep(now: number): void {
    for (const [key, pool] of this.pools) {
      const ctx = this.contexts.get(pool);
      const idle = ctx?.settings.pool.idleTimeoutMs ?? this.config().pool.idleTimeoutMs;
      if (pool.closed || now - pool.lastUsed > idle) this.drop(key, pool);
    }
  }

  closeAll(): void {
    for (const [key, pool] of this.pools) this.drop(key, pool);
    this.changes.close();
  }
}
