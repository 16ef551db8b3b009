// The daemon's handle on one child forked from a template (Node's or
// Python's): a warm process like a pre-started one (run → taken →
// exit/closed, telling the shim `started` and `exit` itself) on its own
// link, except that its parent is the template, which reports how it ended
// when it could not say so itself.
import { readFileSync } from "node:fs";
import { Link } from "../link";
import type { Logger } from "../log";
import { type ExitInfo, killPid, type WarmProcess } from "../pool";
import { type Message, MSGPACK } from "../protocol/codec";
import { type PythonChildToDaemon, type Received, received, type WarmToDaemon } from "../protocol/message-types";
import type { TouchedPages } from "./touched-pages";

/** A template's answer to `fork`: the child's pid and the daemon's end of its link, or why not (null: it cannot say). */
export type Forked = { pid: number; fd: number } | { failed: string; code: string } | null;

/** What a template tells its children's handles. */
export interface TemplateChild {
  readonly state: WarmProcess["state"];
  /** Let go while idle, on its way out. */
  readonly released: boolean;
  /** How the child ended, from the template's wait (with the CPU time it used, µs, when known). */
  ended(exit: ExitInfo, cpuUs?: number | null): void;
  /** The template is gone: nobody will wait for this child for the daemon. */
  orphaned(): void;
}

export interface ForkParent {
  fork(): Promise<Forked>;
  /**
   * Whether a child's failure to be forked counts against its pool: true,
   * except once the template has ended or hung, when only the first child
   * that fails of it counts (the others share its cause).
   */
  failureCounts(): boolean;
  readonly children: Map<number, TemplateChild>;
  /** Pages of the template its children's runs took, from the first few that said (`touched`); its `fork` messages carry them. */
  readonly touched: TouchedPages;
}

/** What a child's run tells its runtime. */
export interface ChildHooks {
  /** Modules its run loaded that were not preloaded. */
  loaded(modules: [string, string][]): void;
  /** The tool opened /dev/tty. */
  needsTty(): void;
  /** The tool set a tracer or profiler (Python's `traced`). */
  traced?(): void;
  /** CPU time (µs) its run took. */
  cost?(us: number): void;
}

/** What a child says on its link: what a warm process does from `run` on, `touched` included (Node's runtime link, Python's child link). */
export type ChildToDaemon = WarmToDaemon | PythonChildToDaemon;

export abstract class ForkedChild implements WarmProcess, TemplateChild {
  pid = -1;
  state: WarmProcess["state"] = "starting";
  readonly ready: Promise<object | null>;
  readonly exited: Promise<ExitInfo>;
  rssKiB = 0;
  startupUs = 0;
  /** Let go while idle: it ends on its own (no pool holds it). */
  released = false;
  /** Why the template could not fork it (code, message), once ready resolved null. */
  failure: { code: string; why: string } | null = null;
  failureCounts = true;
  private link: Link<Message> | null = null;
  private resolveExit!: (info: ExitInfo) => void;
  private resolveTaken: ((taken: boolean) => void) | null = null;
  /** The status the child reported itself, before closing its fds. */
  private reported: ExitInfo | null = null;
  private linkClosed = false;
  private orphan = false;

  constructor(
    private readonly parent: ForkParent,
    /** "node child", "python child": for logs and errors. */
    private readonly what: string,
    protected readonly log: Logger,
    private readonly hooks: ChildHooks,
    /** The types its link carries (its runtime's list in SPEC_MESSAGES). */
    private readonly says: readonly ChildToDaemon["t"][],
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = parent.fork().then((got) => {
      if (!got || "failed" in got) {
        if (got) this.failure = { code: got.code, why: got.failed };
        this.failureCounts = parent.failureCounts();
        this.state = "gone";
        this.resolveExit({ code: null, signal: null });
        return null;
      }
      this.pid = got.pid;
      parent.children.set(got.pid, this);
      this.rssKiB = childPss(parent, got.pid);
      this.forked();
      this.link = new Link(got.fd, MSGPACK, {
        frame: (frame) => {
          const m = received<ChildToDaemon>(frame, this.says);
          if (m) this.handle(m);
        },
        ended: () => this.linkEnded(),
        bad: (error) => {
          this.log.warn({ pid: this.pid, err: error.message }, `bad frame from ${this.what}`);
          this.kill();
        },
      });
      if (this.state === "starting") this.state = "ready";
      return { forked: true };
    });
  }

  /** Once forked (pid known). */
  protected forked(): void {}

  /** The run message as this child's runtime sends it: until its template has the page lists of a few runs, or when the list looks stale, it asks for this one's (`want_pages`). */
  protected outgoing(message: Message): Message {
    if (!this.parent.touched.wanted) return message;
    this.parent.touched.asked();
    return { ...message, want_pages: true };
  }

  /** The status in a child's own `exit` frame, or null if it says none. */
  protected abstract reportedExit(m: Received<ChildToDaemon>): ExitInfo | null;


  run(message: Message, fds: number[]): Promise<boolean> {
    if (this.state !== "ready" || !this.link?.open) throw new Error(`${this.what} ${this.pid} is ${this.state}`);
    this.state = "running";
    const taken = new Promise<boolean>((resolve) => (this.resolveTaken = resolve));
    this.link.send(this.outgoing(message), fds);
    return taken;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.pid < 0 || this.state === "gone") return;
    try {
      process.kill(-this.pid, signal); // its own process group
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  callerGone(): void {
    // As for a pre-started process: gone because the child gave it the status (read what it said first), or killed.
    this.link?.drain();
    if (this.reported === null && this.pid > 0 && this.state !== "gone") killPid(this.pid);
  }

  release(): void {
    if (this.state !== "ready") return;
    this.released = true; // on its way out: it reads the end of its link and exits
    this.closeLink();
  }

  ended(exit: ExitInfo, cpuUs: number | null = null): void {
    this.state = "gone";
    this.link?.drain(); // what it said just before it ended
    this.resolveTaken?.(false);
    if (cpuUs !== null && this.reported === null && exit.code !== null) this.hooks.cost?.(cpuUs);
    // A status the child reported itself (before closing its fds) stands.
    this.resolveExit(this.reported ?? exit);
    this.closeLink();
  }

  orphaned(): void {
    this.orphan = true;
    if (this.linkClosed) this.ended({ code: null, signal: null });
  }

  private handle(m: Received<ChildToDaemon>): void {
    if (m.t === "taken") this.resolveTaken?.(true);
    else if (m.t === "loaded" && Array.isArray(m.modules)) this.hooks.loaded(m.modules as [string, string][]);
    else if (m.t === "needs_tty") this.hooks.needsTty();
    else if (m.t === "traced") this.hooks.traced?.();
    else if (m.t === "exit" && this.state === "running") {
      const exit = this.reportedExit(m);
      if (!exit) return;
      this.reported = exit;
      if (typeof m.cpu_us === "number") this.hooks.cost?.(m.cpu_us);
      if (typeof m.faults === "number") this.parent.touched.ran(m.faults);
    } else if (m.t === "closed" && this.reported) {
      // Every fd of the tool is closed, and the shim has its status.
      this.resolveExit({ ...this.reported, told: true });
    } else if (m.t === "touched" && Array.isArray(m.pages) && m.pages.every((n) => typeof n === "number")) {
      this.parent.touched.add(m.pages as number[]);
    }
  }

  private linkEnded(): void {
    this.linkClosed = true;
    // Before `taken` nothing ran. After, the status comes from the template (or the child's own report).
    this.resolveTaken?.(false);
    if (this.state === "ready") this.state = "gone";
    if (this.orphan) this.ended({ code: null, signal: null });
  }

  private closeLink(): void {
    this.linkClosed = true;
    this.link?.close();
  }
}

// A child's Pss is read from /proc/<pid>/smaps_rollup, which walks its page
// tables: with 64 callers at once that was ~19% of the daemon's CPU (perf),
// one walk of a whole template-sized address space per fork, on the one
// thread every hand-off waits for. A template's children are alike, so one
// read serves its next forks.
const PSS_READ_EVERY = 16;
const lastPss = new WeakMap<ForkParent, { kib: number; uses: number }>();

function childPss(parent: ForkParent, pid: number): number {
  const known = lastPss.get(parent);
  if (known && known.kib > 0 && known.uses < PSS_READ_EVERY) {
    known.uses++;
    return known.kib;
  }
  const kib = readPss(pid);
  lastPss.set(parent, { kib, uses: 1 });
  return kib;
}

/** Proportional set size (KiB): a forked child's pages are mostly the template's, shared. */
export function readPss(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
