// Files that loading code read besides modules (a config, a cache, a state
// file) and that keep changing. A change to one drops the tool's warm
// processes (never stale); a file that changes again after warm processes
// were made with it is one the tool's runs rewrite (yarn's v8-compile-cache
// writes its code cache back after each run, direct or warm): every pool
// would be dropped by the next run and none would ever serve. The modules
// that read it stop being preloaded; they read it in the run, as directly,
// so the file is no longer one a warm process depends on. Runs in the daemon.

export class ChangingFiles {
  /** For each tool: each non-module file read while loading, and the modules that were loading when it was read. */
  private readonly readBy = new Map<string, Map<string, string[]>>();
  /** For each tool: the files whose change has already dropped its warm processes once. */
  private readonly changedOnce = new Map<string, Set<string>>();

  /** What a warm process of the tool read while loading (its `ready`). */
  note(tool: string, readBy: [string, string[]][]): void {
    let files = this.readBy.get(tool);
    if (!files) this.readBy.set(tool, (files = new Map()));
    for (const [file, modules] of readBy) if (typeof file === "string" && Array.isArray(modules)) files.set(file, modules.filter((m) => typeof m === "string"));
  }

  /**
   * A change (`why`: "<path> changed", as the watch says) dropped the tool's
   * warm processes: the modules to stop preloading, with the reason, if the
   * path is a file read while loading that had changed before.
   */
  changed(tool: string, why: string): [module: string, why: string][] {
    const files = this.readBy.get(tool);
    const file = files && [...files.keys()].find((f) => why.startsWith(`${f} `));
    if (!file) return [];
    let once = this.changedOnce.get(tool);
    if (!once) this.changedOnce.set(tool, (once = new Set()));
    if (!once.has(file)) {
      once.add(file);
      return [];
    }
    return files!.get(file)!.map((id) => [id, `read ${file} while loading, which keeps changing (a file the tool's runs rewrite)`]);
  }
}
