// What every runtime does with its pools alike: one per key, each with its
// context; dropped when files they loaded change, when idle too long, or
// when the daemon stops; bounded by the shared limits.
import type { ChangeWatch } from "../change-watch";
import { type Config, toolSettings, type ToolSettings } from "../config";
import type { Limits } from "../limits";
import type { Logger } from "../log";
import type { Pool } from "../pool";
import { native } from "../native";
import { PreloadStore, type ToolRecord } from "../preload-store";

export abstract class RuntimePools<Context extends { toolId: string; settings: ToolSettings }> {
  readonly pools = new Map<string, Pool>();
  protected contexts = new WeakMap<Pool, Context>();

  constructor(
    protected readonly store: PreloadStore,
    protected readonly log: Logger,
    protected readonly config: () => Config,
    private readonly limits: Limits,
    /** The daemon's one file watch, shared by every runtime (tool ids never collide). */
    protected readonly changes: ChangeWatch,
  ) {}

  /**
   * What every runtime knows of a tool before keying a run: its config
   * settings, its id and learned record, and the tty mask of the caller's
   * fds; or why it runs directly (disabled, or it needs /dev/tty at a terminal).
   */
  protected tool(names: string[], idParts: string[], fds: number[]): { settings: ToolSettings; toolId: string; record: ToolRecord; mask: string } | { direct: string } {
    const settings = toolSettings(this.config(), names);
    if (settings.disable) return { direct: "disabled for this tool in the config" };
    const toolId = PreloadStore.toolId(idParts);
    const record = this.store.get(toolId);
    const mask = fds.map((fd) => (native.fdKind(fd) === "tty" ? "t" : "-")).join("");
    if (mask.includes("t") && (settings.terminal === "direct" || record.needsTty)) {
      return { direct: "the tool needs a controlling terminal (/dev/tty), which a warm process cannot have" };
    }
    return { settings, toolId, record, mask };
  }

  /** Lets a pool go: its idle processes end, running ones finish their invocation. */
  protected drop(key: string, pool: Pool, why?: string): void {
    pool.close(why);
    if (this.pools.get(key) === pool) this.pools.delete(key);
  }

  /** Drops the pools of tools whose files changed; the next request starts fresh ones. */
  invalidate(tools: Map<string, string[]> | "all"): void {
    for (const [key, pool] of this.pools) {
      const ctx = this.contexts.get(pool);
      if (tools !== "all" && (!ctx || !tools.has(ctx.toolId))) continue;
      this.drop(key, pool);
      const change = tools === "all" ? "too many changes at once (the kernel's event queue overflowed)" : tools.get(ctx!.toolId)!.join("; ");
      this.log.info({ tool: pool.label, change }, "files changed: warm processes dropped");
    }
  }

  canStartMore(asking: Pool, processes = 1): boolean {
    return this.limits.canStartMore(asking, this.contexts.get(asking)?.settings.pool.maxMemoryMB ?? 0, processes);
  }

  /** A runtime that weighs what its tools' runs write (Node's) keeps track of them. */
  running(_toolId: string, _delta: 1 | -1): void {}

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
  }
}
