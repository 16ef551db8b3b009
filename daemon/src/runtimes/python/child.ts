// The daemon's handle on one child forked from a Python template: a warm
// process like a Node one (run → taken → exit/closed, reporting `started`
// and `exit` to the shim itself) on its own link, except that its parent is
// the template, which reports how it ended.
import { readFileSync } from "node:fs";
import type { Logger } from "../../log";
import { type ExitInfo, killPid, type WarmProcess } from "../../pool";
import { Link } from "../../link";
import { type Message, MSGPACK } from "../../protocol/codec";
import type { Template, TemplateChild } from "./template";

export class PythonChild implements WarmProcess, TemplateChild {
  pid = -1;
  state: WarmProcess["state"] = "starting";
  readonly ready: Promise<object | null>;
  readonly exited: Promise<ExitInfo>;
  rssKiB = 0;
  startupUs = 0;
  /** Let go while idle: it ends on its own (no pool holds it). */
  released = false;
  /** The run it was given, once given. */
  request: Message | null = null;
  private link: Link<Message> | null = null;
  private resolveExit!: (info: ExitInfo) => void;
  private resolveTaken: ((taken: boolean) => void) | null = null;
  private reported: ExitInfo | null = null;
  private linkClosed = false;
  private orphan = false;

  constructor(
    private readonly template: Template,
    private readonly log: Logger,
    private readonly onLoaded: (modules: [string, string][]) => void,
    private readonly onNeedsTty: () => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = template.fork().then((got) => {
      if (!got) {
        this.state = "gone";
        this.resolveExit({ code: null, signal: null });
        return null;
      }
      this.pid = got.pid;
      template.children.set(got.pid, this);
      this.rssKiB = readPss(got.pid);
      this.startupUs = template.startupUs;
      this.link = new Link(got.fd, MSGPACK, {
        frame: (m) => this.handle(m),
        ended: () => this.linkEnded(),
        bad: (error) => {
          this.log.warn({ pid: this.pid, err: error.message }, "bad frame from python child");
          this.kill();
        },
      });
      if (this.state === "starting") this.state = "ready";
      return {};
    });
  }

  run(message: Message, fds: number[]): Promise<boolean> {
    if (this.state !== "ready") throw new Error(`python child ${this.pid} is ${this.state}`);
    this.state = "running";
    this.request = message;
    const taken = new Promise<boolean>((resolve) => (this.resolveTaken = resolve));
    if (!this.link?.open) throw new Error(`python child ${this.pid} has no link`);
    this.link.send(this.template.touchedPages ? message : { ...message, want_pages: true }, fds);
    return taken;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.pid < 0 || this.state === "gone") return;
    try {
      process.kill(-this.pid, signal); // its own process group (setsid in the child)
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  callerGone(): void {
    // Gone because the child gave it the status (read what it said first), or killed.
    this.link?.drain();
    if (!this.reported && this.pid > 0 && this.state !== "gone") killPid(this.pid);
  }

  release(): void {
    if (this.state !== "ready") return;
    this.released = true; // on its way out: it reads the end of its link and exits
    this.closeLink();
  }

  ended(exit: ExitInfo): void {
    this.state = "gone";
    this.resolveTaken?.(false);
    // A status the child reported itself (before closing its fds) stands.
    this.resolveExit(this.reported ?? exit);
    this.closeLink();
  }

  orphaned(): void {
    this.orphan = true;
    if (this.linkClosed) this.ended({ code: null, signal: null });
  }

  private handle(m: Message): void {
    if (m.t === "taken") this.resolveTaken?.(true);
    else if (m.t === "loaded" && Array.isArray(m.modules)) this.onLoaded(m.modules as [string, string][]);
    else if (m.t === "needs_tty") this.onNeedsTty();
    else if (m.t === "touched" && Array.isArray(m.pages) && m.pages.every((n) => typeof n === "number")) this.template.touchedPages ??= m.pages as number[];
    else if (m.t === "exit" && this.state === "running") {
      this.reported = { code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null };
    } else if (m.t === "closed" && this.reported) {
      // Every fd of the tool is closed, and the shim has its status.
      this.resolveExit({ ...this.reported, told: true });
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

/** Proportional set size (KiB): a forked child's pages are mostly the template's, shared. */
function readPss(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
