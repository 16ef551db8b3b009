// Knows when what a warm process loaded has changed, so no invocation ever
// runs on old code. One inotify fd for the daemon: for each tool, the
// directories of its preloaded files, its package roots, the directories
// module resolution walks from its entry (where a new node_modules or
// package.json would change what loads), and the node binary itself.
//
// inotify queues an event inside the syscall that changed the file, so
// draining the queue at the start of each request sees every change that
// finished before that request was sent: edit-then-run is never stale.
import { basename, dirname, extname } from "node:path";
import { native, type Watcher } from "./native";

const IN_MODIFY = 0x2;
const IN_ATTRIB = 0x4;
const IN_CLOSE_WRITE = 0x8;
const IN_MOVED_FROM = 0x40;
const IN_MOVED_TO = 0x80;
const IN_CREATE = 0x100;
const IN_DELETE = 0x200;
const IN_DELETE_SELF = 0x400;
const IN_MOVE_SELF = 0x800;
const IN_Q_OVERFLOW = 0x4000;
const IN_IGNORED = 0x8000;
const IN_ISDIR = 0x40000000;
const DIR_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;
const APPEARS = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;

// Names whose change anywhere on a watched path can change what loads.
const ALWAYS_RELEVANT = new Set([
  "node_modules", "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", ".pnp.cjs", ".pnp.js",
]);
const MODULE_EXT = new Set([".js", ".cjs", ".mjs", ".json", ".node", ".ts", ".mts", ".cts", ".py", ".pth", ".so"]);
// Written by the interpreter itself as modules load: never a change of what loads.
const IGNORED = new Set(["__pycache__"]);

interface DirWatch {
  wd: number;
  /** Files in this directory that some tool loaded: a change to one is relevant. */
  files: Map<string, Set<string>>;
  /** Tools for which any module-ish file appearing here, or a special name changing, is relevant. */
  owners: Set<string>;
}

export class ChangeWatch {
  private readonly fd: number;
  private readonly dirs = new Map<string, DirWatch>();
  private readonly byWd = new Map<number, string>();
  private readonly watcher: Watcher;

  constructor(private readonly onStale: (owners: Set<string> | "all") => void, private readonly onError: (why: string) => void) {
    this.fd = native.inotifyInit();
    this.watcher = native.watch(this.fd, () => this.drain());
    this.watcher.start(1);
  }

  /** Watches, for `owner`, the loaded `files` and the directories resolution depends on. */
  watch(owner: string, files: Iterable<string>, resolutionDirs: Iterable<string>): void {
    for (const file of files) {
      const d = this.dir(dirname(file));
      if (!d) continue;
      let owners = d.files.get(basename(file));
      if (!owners) d.files.set(basename(file), (owners = new Set()));
      owners.add(owner);
      d.owners.add(owner); // a new module file beside it may change resolution
    }
    for (const dir of resolutionDirs) this.dir(dir)?.owners.add(owner);
  }

  private dir(path: string): DirWatch | null {
    let d = this.dirs.get(path);
    if (d) return d;
    let wd: number;
    try {
      wd = native.inotifyAdd(this.fd, path, DIR_MASK);
    } catch (error) {
      // ENOENT is fine (the dir may appear later; its parent is watched);
      // ENOSPC (watch limit) is worth saying.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.onError(`cannot watch ${path}: ${(error as Error).message}`);
      return null;
    }
    // inotify gives one wd per inode: two paths to one dir share it.
    const existing = this.byWd.get(wd);
    if (existing) return this.dirs.get(existing) ?? null;
    d = { wd, files: new Map(), owners: new Set() };
    this.dirs.set(path, d);
    this.byWd.set(wd, path);
    return d;
  }

  /** Handles every queued change now. Called at the start of each request. */
  drain(): void {
    const events = native.inotifyRead(this.fd);
    if (events.length === 0) return;
    const stale = new Set<string>();
    for (let i = 0; i < events.length; i += 3) {
      const wd = events[i] as number;
      const mask = events[i + 1] as number;
      const name = events[i + 2] as string;
      if (mask & IN_Q_OVERFLOW) return this.onStale("all");
      const path = this.byWd.get(wd);
      const d = path !== undefined ? this.dirs.get(path) : undefined;
      if (!d || path === undefined) continue;
      if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) && name === "") {
        for (const owner of d.owners) stale.add(owner);
        this.forget(path, d);
        continue;
      }
      if (IGNORED.has(name)) continue;
      const loaded = d.files.get(name);
      if (loaded) for (const owner of loaded) stale.add(owner);
      if (ALWAYS_RELEVANT.has(name) || (mask & APPEARS && (mask & IN_ISDIR || MODULE_EXT.has(extname(name))))) {
        for (const owner of d.owners) stale.add(owner);
      }
    }
    if (stale.size > 0) this.onStale(stale);
  }

  /** Stops watching for an owner whose warm processes are all gone. */
  unwatch(owner: string): void {
    for (const [path, d] of this.dirs) {
      d.owners.delete(owner);
      for (const [name, owners] of d.files) {
        owners.delete(owner);
        if (owners.size === 0) d.files.delete(name);
      }
      if (d.owners.size === 0 && d.files.size === 0) {
        native.inotifyRemove(this.fd, d.wd);
        this.forget(path, d);
      }
    }
  }

  private forget(path: string, d: DirWatch): void {
    this.dirs.delete(path);
    if (this.byWd.get(d.wd) === path) this.byWd.delete(d.wd);
  }

  get watchCount(): number {
    return this.dirs.size;
  }

  close(): void {
    this.watcher.close();
    native.close(this.fd);
  }
}
