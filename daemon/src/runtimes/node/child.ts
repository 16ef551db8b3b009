// The daemon's handle on one child forked from a Node template: a warm
// process like a pre-started one (run → taken → exit/closed, reporting to
// the shim itself) on its own link, except that its parent is the
// template, which reports how it ended when it could not say so itself.
import { readFileSync } from "node:fs";
import type { Logger } from "../../log";
import { type ExitInfo, killPid, type WarmProcess } from "../../pool";
import { Link } from "../../link";
import { type Message, MSGPACK } from "../../protocol/codec";
import type { ProcessHooks } from "./warm-process";
import type { NodeTemplate, TemplateChild } from "./template";

export class NodeChild implements WarmProcess, TemplateChild {
  pid = -1;
  state: WarmProcess["state"] = "starting";
  readonly ready: Promise<object | null>;
  readonly exited: Promise<ExitInfo>;
  rssKiB = 0;
  /** Why the template could not fork it (code, message), once ready resolved null. */
  failure: { code: string; why: string } | null = null;
  private link: Link<Message> | null = null;
  private resolveExit!: (info: ExitInfo) => void;
  private resolveTaken: ((taken: boolean) => void) | null = null;
  private reportedCode: number | null = null;
  private linkClosed = false;
  private orphan = false;

  constructor(
    template: NodeTemplate,
    private readonly log: Logger,
    private readonly hooks: Omit<ProcessHooks, "templateFrame">,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = template.fork().then((got) => {
      if ("failed" in got) {
        this.failure = { code: got.code, why: got.failed };
        this.state = "gone";
        this.resolveExit({ code: null, signal: null });
        return null;
      }
      this.pid = got.pid;
      template.children.set(got.pid, this);
      this.rssKiB = readPss(got.pid);
      this.link = new Link(got.fd, MSGPACK, {
        frame: (m) => this.handle(m),
        ended: () => this.linkEnded(),
        bad: (error) => {
          this.log.warn({ pid: this.pid, err: error.message }, "bad frame from node child");
          this.kill();
        },
      });
      if (this.state === "starting") this.state = "ready";
      return { forked: true };
    });
  }

  run(message: Message, fds: number[]): Promise<boolean> {
    if (this.state !== "ready" || !this.link?.open) throw new Error(`node child ${this.pid} is ${this.state}`);
    this.state = "running";
    const taken = new Promise<boolean>((resolve) => (this.resolveTaken = resolve));
    this.link.send(message, fds);
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
    // As for a pre-started process: not once it has given the shim its status.
    this.link?.drain();
    if (this.reportedCode === null && this.pid > 0 && this.state !== "gone") killPid(this.pid);
  }

  release(): void {
    if (this.state === "ready") this.closeLink();
  }

  ended(exit: ExitInfo, cpuUs: number | null): void {
    this.state = "gone";
    this.link?.drain();
    this.resolveTaken?.(false);
    if (cpuUs !== null && this.reportedCode === null && exit.code !== null) this.hooks.cost(cpuUs);
    // A status the child reported itself (before closing its fds) stands.
    this.resolveExit(this.reportedCode !== null ? { code: this.reportedCode, signal: null } : exit);
    this.closeLink();
  }

  orphaned(): void {
    this.orphan = true;
    if (this.linkClosed) this.ended({ code: null, signal: null }, null);
  }

  private handle(m: Message): void {
    if (m.t === "taken") this.resolveTaken?.(true);
    else if (m.t === "loaded" && Array.isArray(m.modules)) this.hooks.loaded(m.modules as [string, string][]);
    else if (m.t === "needs_tty") this.hooks.needsTty();
    else if (m.t === "exit" && this.state === "running" && typeof m.code === "number") {
      this.reportedCode = m.code;
      if (typeof m.cpu_us === "number") this.hooks.cost(m.cpu_us);
    } else if (m.t === "closed" && this.reportedCode !== null) {
      // Every fd of the tool is closed, and the shim has its status.
      this.resolveExit({ code: this.reportedCode, signal: null, told: true });
    }
  }

  private linkEnded(): void {
    this.linkClosed = true;
    // Before `taken` nothing ran. After, the status comes from the template (or the child's own report).
    this.resolveTaken?.(false);
    if (this.state === "ready") this.state = "gone";
    if (this.orphan) this.ended({ code: null, signal: null }, null);
  }

  private closeLink(): void {
    this.linkClosed = true;
    this.link?.close();
  }
}

/** Proportional set size (KiB): a forked child's pages are mostly the template's, shared. */
export function readPss(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
