// What warm has learned about each tool, kept in the state dir so a new
// daemon starts out knowing: the modules its runs loaded (in load order),
// the modules that must not be preloaded and why, the env variables read
// while loading (they join the key), and whether it uses ESM.
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileProblem, type Logger } from "./log";
import { makeDirs } from "./paths";

/** A module to preload: kind `cjs`, `esm` or `json` (Node, by path or URL) or `py` (Python, by module name). */
export type ModuleRef = [kind: "cjs" | "esm" | "json" | "py", id: string];

/** A question a module asked of process.argv while loading: [op, arg] (the answer varies by caller). */
export type ArgvQuestion = [op: string, arg: string | number | null];

export interface ToolRecord {
  modules: ModuleRef[];
  /** Modules not preloaded, and why; each stands while the file that caused it is unchanged (see dropStamps). */
  dropped: Record<string, string>;
  /** For each dropped module: the file whose loading caused the drop, and its mtime:size:ino then. */
  dropStamps: Record<string, [file: string, stamp: string]>;
  envNames: string[];
  argvQuestions: ArgvQuestion[];
  /** Some module reads process.cwd() while loading: the working directory is part of the key. */
  usesCwd: boolean;
  /** Some module reads the umask while loading (Python): the umask is part of the key. */
  usesUmask: boolean;
  /** The tool opened /dev/tty: at a terminal it runs directly. */
  needsTty: boolean;
  /** A run of the tool set a tracer or profiler (Python): it runs directly. */
  traces: boolean;
  /** Some module lists the names in process.env while loading: the set of names is part of the key. */
  enumeratesEnv: boolean;
  esm: boolean;
  runs: number;
}

const MAX_MODULES = 20000;

export class PreloadStore {
  private records = new Map<string, ToolRecord>();
  private dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly dir: string, private readonly log: Logger) {}

  /** How many tools' learning waits to be written (status shows it, so a reader of the files knows they are current). */
  get unsaved(): number {
    return this.dirty.size;
  }

  static toolId(parts: string[]): string {
    return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 24);
  }

  get(id: string): ToolRecord {
    let record = this.records.get(id);
    if (!record) {
      record = this.read(id) ?? { modules: [], dropped: {}, dropStamps: {}, envNames: [], argvQuestions: [], usesCwd: false, usesUmask: false, needsTty: false, traces: false, enumeratesEnv: false, esm: false, runs: 0 };
      this.records.set(id, record);
    }
    return record;
  }

  /** Adds what a run loaded; returns true if anything was new. */
  addLoaded(id: string, modules: [string, string][], entry: string): boolean {
    const record = this.get(id);
    const known = new Set(record.modules.map((m) => m[1]));
    let added = false;
    for (const [kind, ref] of modules) {
      if (kind !== "cjs" && kind !== "esm" && kind !== "json" && kind !== "py") continue;
      if (typeof ref !== "string" || known.has(ref) || ref === entry || ref === `file://${entry}`) continue;
      if (record.modules.length >= MAX_MODULES) break;
      if (kind === "esm") record.esm = true;
      record.modules.push([kind, ref]);
      known.add(ref);
      added = true;
    }
    if (added) this.markDirty(id);
    return added;
  }

  /** Removes modules that no longer load (they are learned again if a run loads them). */
  forget(id: string, refs: string[]): boolean {
    const record = this.get(id);
    const gone = new Set(refs);
    const kept = record.modules.filter((m) => !gone.has(m[1]));
    if (kept.length === record.modules.length) return false;
    record.modules = kept;
    this.markDirty(id);
    return true;
  }

  /**
   * Records modules not to preload. `cause` maps a module to the file whose
   * loading was the reason (itself, or a module it loads); the drop holds
   * while that file is as it is now.
   */
  addDropped(id: string, dropped: [string, string][], cause: (ref: string) => string = (ref) => ref): boolean {
    const record = this.get(id);
    let added = false;
    for (const [ref, why] of dropped) {
      if (record.dropped[ref] === undefined) {
        record.dropped[ref] = why;
        const file = cause(ref);
        record.dropStamps[ref] = [file, fileStamp(file)];
        added = true;
      }
    }
    if (added) this.markDirty(id);
    return added;
  }

  /** Takes back the drops that `which` selects (by module and why): those modules are tried again. */
  undrop(id: string, which: (ref: string, why: string) => boolean): string[] {
    const record = this.get(id);
    const undone = Object.keys(record.dropped).filter((ref) => which(ref, record.dropped[ref]));
    for (const ref of undone) {
      delete record.dropped[ref];
      delete record.dropStamps[ref];
    }
    if (undone.length > 0) this.markDirty(id);
    return undone;
  }

  /** Forgets the drops whose causing file changed since (or has no stamp): those modules are tried again. */
  expireDrops(id: string): string[] {
    const record = this.get(id);
    const expired: string[] = [];
    for (const ref of Object.keys(record.dropped)) {
      const stamp = record.dropStamps[ref];
      if (stamp && fileStamp(stamp[0]) === stamp[1]) continue;
      delete record.dropped[ref];
      delete record.dropStamps[ref];
      expired.push(ref);
    }
    if (expired.length > 0) this.markDirty(id);
    return expired;
  }

  addEnvNames(id: string, names: string[]): boolean {
    const record = this.get(id);
    const fresh = names.filter((n) => !record.envNames.includes(n));
    if (fresh.length === 0) return false;
    record.envNames.push(...fresh);
    record.envNames.sort();
    this.markDirty(id);
    return true;
  }

  addArgvQuestions(id: string, questions: ArgvQuestion[]): boolean {
    const record = this.get(id);
    const fresh = questions.filter(([op, arg]) => !record.argvQuestions.some((q) => q[0] === op && q[1] === arg));
    if (fresh.length === 0) return false;
    record.argvQuestions.push(...fresh.map(([op, arg]) => [op, arg] as ArgvQuestion));
    this.markDirty(id);
    return true;
  }

  /** Sets one of the tool's yes/no facts (usesCwd, usesUmask, needsTty, traces); true if that is news. */
  mark(id: string, fact: "usesCwd" | "usesUmask" | "needsTty" | "traces" | "enumeratesEnv"): boolean {
    const record = this.get(id);
    if (record[fact]) return false;
    record[fact] = true;
    this.markDirty(id);
    return true;
  }

  noteRun(id: string): void {
    this.get(id).runs++;
    this.markDirty(id);
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private read(id: string): ToolRecord | null {
    try {
      const r = JSON.parse(readFileSync(this.file(id), "utf8")) as ToolRecord;
      if (!Array.isArray(r.modules) || typeof r.dropped !== "object" || !Array.isArray(r.envNames)) return null;
      const argvQuestions = Array.isArray(r.argvQuestions) ? r.argvQuestions : [];
      const dropStamps = typeof r.dropStamps === "object" && r.dropStamps !== null ? r.dropStamps : {};
      return { modules: r.modules, dropped: r.dropped, dropStamps, envNames: r.envNames, argvQuestions, usesCwd: r.usesCwd === true, usesUmask: r.usesUmask === true, needsTty: r.needsTty === true, traces: r.traces === true, enumeratesEnv: r.enumeratesEnv === true, esm: r.esm === true, runs: r.runs | 0 };
    } catch {
      return null;
    }
  }

  private markDirty(id: string): void {
    this.dirty.add(id);
    // Batched so a burst of runs costs one write, off the request path.
    this.timer ??= setTimeout(() => this.flush(), 200);
    this.timer.unref();
  }

  /** Writes changed records (atomically: temp file, then rename). A full disk loses learning, never a run. */
  flush(): void {
    this.timer = null;
    const ids = [...this.dirty];
    this.dirty.clear();
    for (const id of ids) {
      const target = this.file(id);
      const temp = `${target}.${process.pid}.tmp`;
      try {
        makeDirs(this.dir);
        writeFileSync(temp, JSON.stringify(this.records.get(id)));
        renameSync(temp, target);
      } catch (error) {
        // A state dir that cannot be made or written (read-only, full, under /proc) is said once.
        fileProblem(this.log, `cannot save what warm learned in ${this.dir}`, error);
        try {
          unlinkSync(temp); // a partial write on a full disk
        } catch {
          // never written
        }
      }
    }
  }
}

/** What tells a file's version apart: mtime, size and inode ("" if it cannot be read, which also counts as a change). */
function fileStamp(ref: string): string {
  const path = ref.startsWith("file:") ? new URL(ref).pathname : ref;
  const st = statSync(decodeURIComponent(path), { throwIfNoEntry: false, bigint: true });
  return st ? `${st.mtimeNs}:${st.size}:${st.ino}` : "";
}
