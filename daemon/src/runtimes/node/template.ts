// The daemon's handle on one Node template: a warm process started with
// --single-threaded and a young-generation floor (fresh-state.ts) and
// `fork: true` in its preload, which after `ready`
// forks a child per `fork` (protocol-spec, "Node: templates that fork") and
// reports how each child ended.
import type { Logger } from "../../log";
import { native } from "../../native";
import type { NodeTemplateToDaemon, Received } from "../../protocol/message-types";
import { TEMPLATE_FLAGS } from "../../inside-node/fresh-state";
import type { Forked, TemplateChild } from "../forked-child";
import { TouchedPages } from "../touched-pages";
import { type LaunchSpec, type ProcessHooks, type ReadyInfo, WarmProcess } from "./warm-process";

// A fork takes about a millisecond; a template that has not answered in this long is hung (stopped, stuck): it is killed.
const FORK_TIMEOUT_MS = 5000;

export class NodeTemplate {
  readonly process: WarmProcess;
  readonly ready: Promise<ReadyInfo | null>;
  /** The daemon judged its preload fit to fork from. */
  usable = false;
  /** No new children: it ends once those it has are gone. */
  retired = false;
  /** Its code caches are stamped as a plain node's (it was given plain_flags). */
  readonly stampsPlain: boolean;
  readonly children = new Map<number, TemplateChild>();
  readonly touched = new TouchedPages();
  private forks: ((got: Forked) => void)[] = [];
  private forkTimers: NodeJS.Timeout[] = [];
  /** A child failed because this template ended, hung or never became usable: the others that do share that cause. */
  private endCounted = false;

  constructor(spec: LaunchSpec, private readonly log: Logger, hooks: Omit<ProcessHooks, "templateFrame">) {
    this.process = new WarmProcess(
      { ...spec, args: [...TEMPLATE_FLAGS, ...spec.args], preload: { ...spec.preload, fork: true, learn_esm: false } },
      log,
      { ...hooks, templateFrame: (m, fds) => this.frame(m, fds) },
    );
    this.ready = this.process.ready;
    this.stampsPlain = spec.preload.plain_flags !== undefined;
    void this.process.exited.then(() => this.gone());
  }

  get pid(): number {
    return this.process.pid;
  }

  get alive(): boolean {
    return this.process.state !== "gone";
  }

  failureCounts(): boolean {
    if (this.alive && !this.retired && this.usable) return true; // a fork that failed (EAGAIN, ENOTSAFE): each counts
    const first = !this.endCounted;
    this.endCounted = true;
    return first;
  }

  /** A new child, forked now: its pid and the daemon's end of its link, or why not. */
  async fork(): Promise<Forked> {
    const info = await this.ready;
    if (!info || !this.usable || this.retired || !this.alive) return { failed: "the template is not usable", code: "EGONE" };
    return new Promise((resolve) => {
      try {
        this.process.sendFrame({ t: "fork", pages: this.touched.pairs ?? [] });
        this.forks.push(resolve);
      } catch {
        return resolve({ failed: "the template's link is closed", code: "EGONE" });
      }
      const timer = setTimeout(() => {
        if (!this.forks.includes(resolve)) return;
        this.log.warn({ pid: this.pid, ms: FORK_TIMEOUT_MS }, "node template did not fork in time; killed");
        this.retired = true;
        this.process.kill();
        for (const pending of this.forks.splice(0)) pending({ failed: "the template did not answer", code: "ETIMEDOUT" });
      }, FORK_TIMEOUT_MS);
      timer.unref();
      this.forkTimers.push(timer);
    });
  }

  /** Stops forking; the template ends when its last child has. */
  retire(): void {
    this.retired = true;
    if (this.children.size === 0) this.process.release();
  }

  private frame(m: Received<NodeTemplateToDaemon>, fds: number[]): void {
    if (m.t === "forked" && typeof m.pid === "number" && fds.length === 1) {
      clearTimeout(this.forkTimers.shift());
      const resolve = this.forks.shift();
      if (resolve) return resolve({ pid: m.pid, fd: fds[0] });
    } else if (m.t === "forked") {
      // Its link did not arrive (cut short): that fork fails; the child sees its link's end and exits.
      clearTimeout(this.forkTimers.shift());
      this.forks.shift()?.({ failed: "the forked child's link did not arrive", code: "EBADF" });
    } else if (m.t === "fork_failed") {
      clearTimeout(this.forkTimers.shift());
      this.forks.shift()?.({ failed: String(m.why), code: String(m.code) });
    } else if (m.t === "exit" && typeof m.pid === "number") {
      const child = this.children.get(m.pid);
      this.children.delete(m.pid);
      const exit = { code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null };
      child?.ended(exit, typeof m.cpu_us === "number" ? m.cpu_us : null);
      if (this.retired && this.children.size === 0) this.process.release();
    }
    for (const fd of fds) native.close(fd);
  }

  private gone(): void {
    for (const timer of this.forkTimers.splice(0)) clearTimeout(timer);
    for (const resolve of this.forks.splice(0)) resolve({ failed: "the template ended", code: "EGONE" });
    for (const child of this.children.values()) child.orphaned();
    this.children.clear();
    if (!this.retired) this.log.info({ pid: this.pid }, "node template ended");
  }
}
