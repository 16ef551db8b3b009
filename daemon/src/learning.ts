// Whether warm has learned to preload a tool safely. A warm process whose
// preloading turned out unusable is discarded (its modules saw per-run
// state); what it showed is learned, and the next one is usually usable.
// Until one is, callers do not wait for a process that may be discarded:
// they run directly at once while the next one starts in the background.
// After a few unusable processes in a row warm stops trying, and the tool
// runs directly (at direct speed) until one of its files changes.
export const MAX_LEARNING_TRIES = 3;

export class Learning {
  private readonly tries = new Map<string, number>();
  /** Tools whose last process was usable, with how many modules it preloaded (if known). */
  private readonly proven = new Map<string, number>();

  /** A process of the tool came up usable, having preloaded `preloaded` modules (Infinity if not counted). */
  settled(tool: string, preloaded = Infinity): void {
    this.tries.delete(tool);
    this.proven.set(tool, preloaded);
  }

  /** A process of the tool came up unusable (and was discarded). */
  unsettled(tool: string): void {
    this.tries.set(tool, (this.tries.get(tool) ?? 0) + 1);
    this.proven.delete(tool);
  }

  /**
   * Whether a caller may wait for a process of the tool that is starting:
   * the last one was usable, and preloaded at least as many modules as this
   * one does (one preloading modules no process has yet may be discarded;
   * a tool's first process, which preloads nothing, proves nothing of them).
   */
  trusted(tool: string, preloading = 0): boolean {
    const proven = this.proven.get(tool);
    return proven !== undefined && preloading <= proven;
  }

  /** A process of the tool came up unusable, having learned enough that the next one is a new try: not counted, but not trusted either. */
  doubted(tool: string): void {
    this.proven.delete(tool);
  }

  /** Whether warm gave up on the tool (until its files change). */
  gaveUp(tool: string): boolean {
    return (this.tries.get(tool) ?? 0) >= MAX_LEARNING_TRIES;
  }

  /** The tool's files changed: it gets its tries again. */
  changed(tool: string): void {
    this.tries.delete(tool);
  }
}
