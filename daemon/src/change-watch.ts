// Knows when what a warm process loaded has changed, so no invocation ever
// runs on old code. One inotify fd for the daemon, watching directories: for
// each tool, a change to one of its files (modules, files read while
// loading, the interpreter), or a new or removed entry that module
// resolution could pick instead of what it picked, drops its warm processes.
//
// Only such names count. In a watched directory they are: the tool's own
// files there; the names on the path to a loaded module (in /a, for
// /a/node_modules/x/y.js: `node_modules`), matched with any extension a
// resolution tries (`x.js` shadows `x/`, `x` shadows `x.json`); and the names
// that change resolution wherever they appear (node_modules, package.json,
// lockfiles, .pth files). Anything else (`mkdir /tmp/x` beside a tool
// installed under /tmp, a test runner's temp dirs) is not a change.
// Device and kernel files (/dev, /proc, /sys) and the daemon's own files are
// never watched: they change all the time and never change what loads.
//
// inotify queues an event inside the syscall that changed the file, so
// draining the queue at the start of each request sees every change that
// finished before that request was sent: edit-then-run is never stale.
import { basename, dirname, extname, join } from "node:path";
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
const DIR_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;

// Names whose change anywhere on a watched path can change what loads.
const ALWAYS_RELEVANT = new Set([
  "node_modules", "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", ".pnp.cjs", ".pnp.js",
]);
// Python: path configuration files, and the metadata entry points are found in.
const ALWAYS_RELEVANT_EXT = new Set([".pth", ".dist-info", ".egg-info", ".egg-link"]);
// Written by the interpreter itself as modules load: never a change of what loads.
const IGNORED = new Set(["__pycache__"]);
const NEVER_WATCHED = ["/dev", "/proc", "/sys"];
/** In `lookups`, a directory whose every entry counts (a module listed it while loading: plugin discovery). */
export const ANY = "*";

/** Owners (tools) by name, and what a change to each name is. */
type Names = Map<string, Set<string>>;

interface DirWatch {
  wd: number;
  /** Files in this directory that some tool loaded or read: any change to one counts. */
  files: Names;
  /** Stems of names that resolution picked here: one appearing or going counts. */
  stems: Names;
  /** Tools watching this directory: it going, or an always-relevant name changing, counts. */
  owners: Set<string>;
}

/** The forms a name takes in resolution: itself, without its extension (Node), before its first dot (Python). */
function stems(name: string): string[] {
  const ext = extname(name);
  const dot = name.indexOf(".", 1);
  return [...new Set([name, ext ? name.slice(0, -ext.length) : name, dot > 0 ? name.slice(0, dot) : name])];
}

function add(names: Names, name: string, owner: string): void {
  let owners = names.get(name);
  if (!owners) names.set(name, (owners = new Set()));
  owners.add(owner);
}

export class ChangeWatch {
  private readonly fd: number;
  private readonly dirs = new Map<string, DirWatch>();
  private readonly byWd = new Map<number, string>();
  private readonly watcher: Watcher;

  /**
   * onStale gets, for each tool whose files changed, every change that did
   * it, in the order seen ("all" when the kernel's queue overflowed). `ownDirs`: the daemon's
   * own directories (socket, state, log), never watched.
   */
  constructor(
    private readonly onStale: (changes: Map<string, string[]> | "all") => void,
    private readonly onError: (why: string) => void,
    private readonly ownDirs: string[] = [],
  ) {
    this.fd = native.inotifyInit();
    this.watcher = native.watch(this.fd, () => this.drain());
    this.watcher.start(1);
  }

  /**
   * Watches, for `owner`: `files` (any change to one), and in each directory
   * of `lookups` the names resolution picked there (see the head comment).
   */
  watch(owner: string, files: Iterable<string>, lookups: Map<string, Iterable<string>> = new Map()): void {
    for (const file of files) {
      const d = this.dir(dirname(file));
      if (!d) continue;
      add(d.files, basename(file), owner);
      d.owners.add(owner);
    }
    for (const [path, names] of lookups) {
      const d = this.dir(path);
      if (!d) continue;
      d.owners.add(owner);
      for (const name of names) for (const stem of stems(name)) add(d.stems, stem, owner);
    }
  }

  private ignored(path: string): boolean {
    const under = (root: string) => path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
    return NEVER_WATCHED.some(under) || this.ownDirs.some(under);
  }

  private dir(path: string): DirWatch | null {
    let d = this.dirs.get(path);
    if (d) return d;
    if (this.ignored(path)) return null;
    let wd: number;
    try {
      wd = native.inotifyAdd(this.fd, path, DIR_MASK);
    } catch (error) {
      // ENOENT/ENOTDIR are fine (the dir may appear later; its parent is
      // watched); ENOSPC (watch limit) is worth saying.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") this.onError(`cannot watch ${path}: ${(error as Error).message}`);
      return null;
    }
    // inotify gives one wd per inode: two paths to one dir share it.
    const existing = this.byWd.get(wd);
    if (existing) return this.dirs.get(existing) ?? null;
    d = { wd, files: new Map(), stems: new Map(), owners: new Set() };
    this.dirs.set(path, d);
    this.byWd.set(wd, path);
    return d;
  }

  /** Handles every queued change now. Called at the start of each request. */
  drain(): void {
    const events = native.inotifyRead(this.fd);
    if (events.length === 0) return;
    const stale = new Map<string, string[]>();
    const blame = (owners: Iterable<string>, why: string) => {
      for (const owner of owners) {
        const whys = stale.get(owner);
        if (!whys) stale.set(owner, [why]);
        else if (!whys.includes(why)) whys.push(why);
      }
    };
    for (let i = 0; i < events.length; i += 3) {
      const wd = events[i] as number;
      const mask = events[i + 1] as number;
      const name = events[i + 2] as string;
      if (mask & IN_Q_OVERFLOW) return this.onStale("all");
      const path = this.byWd.get(wd);
      const d = path !== undefined ? this.dirs.get(path) : undefined;
      if (!d || path === undefined) continue;
      if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) && name === "") {
        blame(d.owners, `${path} ${mask & IN_MOVE_SELF ? "moved" : "removed"}`);
        this.forget(path, d);
        continue;
      }
      if (IGNORED.has(name)) continue;
      const why = `${join(path, name)} ${describe(mask)}`;
      const loaded = d.files.get(name);
      if (loaded) blame(loaded, why);
      if (ALWAYS_RELEVANT.has(name) || ALWAYS_RELEVANT_EXT.has(extname(name))) blame(d.owners, why);
      else if (mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM)) {
        for (const stem of [...stems(name), ANY]) {
          const owners = d.stems.get(stem);
          if (owners) blame(owners, why);
        }
      }
    }
    if (stale.size === 0) return;
    this.onStale(stale);
    // Their warm processes are dropped: the next ones watch what they load. A file only
    // the dropped ones read (a cache a module no longer preloaded reads) drops nothing more.
    for (const owner of stale.keys()) this.unwatch(owner);
  }

  /** Stops watching for an owner whose warm processes are all gone (dropped for a change). */
  unwatch(owner: string): void {
    for (const [path, d] of this.dirs) {
      d.owners.delete(owner);
      for (const names of [d.files, d.stems]) {
        for (const [name, owners] of names) {
          owners.delete(owner);
          if (owners.size === 0) names.delete(name);
        }
      }
      if (d.owners.size === 0) {
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

function describe(mask: number): string {
  if (mask & IN_CREATE) return "created";
  if (mask & IN_DELETE) return "deleted";
  if (mask & IN_MOVED_TO) return "moved in";
  if (mask & IN_MOVED_FROM) return "moved away";
  if (mask & IN_ATTRIB) return "attributes changed";
  return "changed";
}
