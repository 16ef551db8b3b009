// Files that loading code read besides modules (a config, a cache, a state
// file) and that keep changing. A change to one drops the tool's warm
// processes (never stale). A file the tool's own runs rewrite (yarn's
// v8-compile-cache writes its code cache back after each run) would drop
// every pool at the next run and none would ever serve: one whose
// modification time fell within a run of the tool twice (two writes) is
// taken for such a file. The modules that read it stop being preloaded;
// they read it in the run, as directly, so the file is no longer one a warm
// process depends on. A file changed only while none of the tool's runs was
// going on (a user editing a config) just drops the warm processes, each
// time. Runs in the daemon.
import { statSync } from "node:fs";

/** A run of the tool: from its hand-off (or `direct` reply) to its end (ms since the epoch). */
interface Span {
  start: number;
  end: number | null;
}

const SPANS_KEPT = 32;

export class ChangingFiles {
  /** For each tool: each non-module file read while loading, and the modules that were loading when it was read. */
  private readonly readBy = new Map<string, Map<string, string[]>>();
  /** For each tool: its recent runs. */
  private readonly spans = new Map<string, Span[]>();
  /** For each tool and file: the modification times seen within one of its runs. */
  private readonly written = new Map<string, Map<string, Set<number>>>();

  /** A run of the tool started (1), or ended (-1). */
  running(tool: string, delta: 1 | -1): void {
    let spans = this.spans.get(tool);
    if (!spans) this.spans.set(tool, (spans = []));
    if (delta === 1) {
      spans.push({ start: Date.now(), end: null });
      if (spans.length > SPANS_KEPT) spans.shift();
    } else {
      const open = spans.find((s) => s.end === null);
      if (open) open.end = Date.now();
    }
  }

  /**
   * What a warm process of the tool read while loading (its `ready`): the
   * modules to stop preloading, with the reason, if one of those files
   * was last written during a run (a write that landed before any watch).
   */
  note(tool: string, readBy: [string, string[]][]): [module: string, why: string][] {
    let files = this.readBy.get(tool);
    if (!files) this.readBy.set(tool, (files = new Map()));
    for (const [file, modules] of readBy) if (typeof file === "string" && Array.isArray(modules)) files.set(file, modules.filter((m) => typeof m === "string"));
    return readBy.flatMap(([file]) => this.check(tool, file));
  }

  /**
   * Changes (`whys`: "<path> <how>", as the watch says) dropped the tool's
   * warm processes: the modules to stop preloading, with the reason, for
   * each file read while loading that its runs have now written twice.
   */
  changed(tool: string, whys: string[]): [module: string, why: string][] {
    const files = this.readBy.get(tool);
    if (!files) return [];
    return [...files.keys()].filter((file) => whys.some((why) => why.startsWith(`${file} `))).flatMap((file) => this.check(tool, file));
  }

  private check(tool: string, file: string): [string, string][] {
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      return []; // removed: no write to weigh
    }
    if (!(this.spans.get(tool) ?? []).some((s) => s.start <= mtime && (s.end === null || mtime <= s.end))) return [];
    let byFile = this.written.get(tool);
    if (!byFile) this.written.set(tool, (byFile = new Map()));
    let times = byFile.get(file);
    if (!times) byFile.set(file, (times = new Set()));
    times.add(mtime);
    if (times.size < 2) return [];
    return (this.readBy.get(tool)?.get(file) ?? []).map((id) => [id, `read ${file} while loading, which keeps changing (a file the tool's runs rewrite)`]);
  }
}
