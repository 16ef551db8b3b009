// The daemon's handle on one Python template: starts `python [flags]
// warm_template.py` with the runtime link on fd 3 and stdio of the pool's
// kind (a terminal where the callers have one), sends `preload`, and then
// asks for children: each `fork` is answered by `forked` with the daemon's
// end of the child's own link. The template reports how each child ended.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../log";
import { native } from "../../native";
import type { TemplateChild } from "../forked-child";
import { TouchedPages } from "../touched-pages";
import { type DaemonToPythonTemplate, type PythonPreload, type PythonTemplateToDaemon, type Received, received, SPEC_MESSAGES } from "../../protocol/message-types";
import { Link } from "../../link";
import { type Message, MSGPACK } from "../../protocol/codec";
import { cpuUs } from "../../proc-cpu";
import { expireUnlessReady, spawnLinked } from "../linked-process";
import { poolStdio } from "../pool-stdio";

export const TEMPLATE_PY = join(__dirname, "..", "..", "..", "python", "warm_template.py");

export interface TemplateReady {
  clean: boolean;
  dropped: [string, string][];
  envRead: string[];
  cwdRead: boolean;
  umaskRead: boolean;
  filesRead: string[];
  /** Directories a module listed while loading: any entry appearing or going there counts. */
  dirsListed: string[];
  dirs: string[];
}

export interface TemplateSpec {
  interpreter: string;
  argv0: string;
  flags: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Which of fds 0-2 are terminals for this pool's callers ("t-t"). */
  mask: string;
  preload: PythonPreload;
  readyTimeoutMs: number;
}

export class Template {
  readonly child: ChildProcess;
  readonly pid: number;
  state: "starting" | "ready" | "gone" = "starting";
  readonly ready: Promise<TemplateReady | null>;
  /** No new children: it ends once those it has are gone. */
  retired = false;
  /** Pages of this template that its children's runs took, faulted in ahead by each new child. */
  readonly touched = new TouchedPages();
  /** CPU time from spawning the interpreter to its `ready` (us): the start-up each child's run skips. */
  startupUs = 0;
  /** The modules (roots) it preloaded, as far as the daemon knows (for outcomes.ts). */
  preloaded: string[] = [];
  /** Resident memory once ready (KiB), for the limits. */
  rssKiB = 0;
  /** Resolves when the process has ended. */
  readonly exited: Promise<void>;
  /** Children alive (idle or running), by pid: told how they ended. */
  readonly children = new Map<number, TemplateChild>();
  private resolveReady!: (info: TemplateReady | null) => void;
  private resolveExited!: () => void;
  private forks: ((got: { pid: number; fd: number } | null) => void)[] = [];
  private link: Link<Message> | null = null;
  private ptys: number[] = [];
  /** A child failed because this template ended or never became ready: the others that do share that cause. */
  private endCounted = false;

  constructor(spec: TemplateSpec, private readonly log: Logger) {
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    const { stdio, masters, slaves } = poolStdio(spec.mask);
    this.ptys = masters;
    const started = spawnLinked(
      {
        file: spec.interpreter,
        args: [...spec.flags, TEMPLATE_PY],
        argv0: spec.argv0,
        env: { ...spec.env, WARM_RUNTIME_LINK: "3", WARM_PARENT_PID: String(process.pid) },
        cwd: spec.cwd,
        stdio,
        handOver: slaves,
      },
      log,
      "python template",
    );
    this.child = started.child;
    this.pid = started.pid;
    this.child.once("exit", (code, signal) => {
      this.link?.drain();
      if (this.state === "starting") log.warn({ pid: this.pid, code, signal }, "python template ended before it was ready");
      this.gone();
    });
    this.child.once("error", (error) => {
      log.warn({ err: error.message, python: spec.interpreter }, "python template failed to start");
      this.gone();
    });
    if (started.link < 0) return;
    expireUnlessReady(this.ready, spec.readyTimeoutMs, () => this.state === "starting", () => {
      log.warn({ pid: this.pid, seconds: spec.readyTimeoutMs / 1000 }, "python template did not finish preloading in time; killed");
      this.kill();
    });
    this.link = new Link(
      started.link,
      MSGPACK,
      {
        frame: (frame, fds) => {
          const m = received<PythonTemplateToDaemon>(frame, SPEC_MESSAGES["Python template link"]["template → daemon"]);
          if (m) this.handle(m, fds);
          else for (const fd of fds) native.close(fd);
        },
        ended: () => this.close(),
        bad: (error) => {
          log.warn({ pid: this.pid, err: error.message }, "bad frame from python template");
          this.kill();
        },
      },
      { acceptsFds: true, cutFdsFailFrame: true }, // `forked` carries the child's link; one cut short fails that fork
    );
    this.send(spec.preload, []);
  }

  /** A new child, forked now: its pid and the daemon's end of its link; null if the template cannot. */
  async fork(): Promise<{ pid: number; fd: number } | null> {
    if ((await this.ready) === null || this.state !== "ready" || this.retired) return null;
    return new Promise((resolve) => {
      try {
        this.send({ t: "fork", pages: this.touched.pairs ?? [] }, []);
        this.forks.push(resolve);
      } catch {
        resolve(null);
      }
    });
  }

  failureCounts(): boolean {
    if (this.state === "ready" && !this.retired) return true;
    const first = !this.endCounted;
    this.endCounted = true;
    return first;
  }

  /** Stops forking; the template ends when its last child has. */
  retire(): void {
    this.log.debug({ template: this.pid, children: [...this.children.keys()] }, "template retired");
    this.retired = true;
    if (this.children.size === 0) this.close();
  }

  markUsable(): void {
    if (this.state === "starting") this.state = "ready";
  }

  kill(): void {
    if (this.state === "gone") return;
    try {
      process.kill(this.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }

  private handle(m: Received<PythonTemplateToDaemon>, fds: number[]): void {
    if (m.t === "forked" && typeof m.pid === "number" && fds.length === 1) {
      const resolve = this.forks.shift();
      if (resolve) return resolve({ pid: m.pid, fd: fds[0] });
    } else if (m.t === "forked") {
      // Its link did not arrive (cut short): that fork fails; the child sees its link's end and exits.
      this.forks.shift()?.(null);
    } else if (m.t === "exit" && typeof m.pid === "number") {
      const child = this.children.get(m.pid);
      this.children.delete(m.pid);
      child?.ended({ code: typeof m.code === "number" ? m.code : null, signal: typeof m.signal === "number" ? m.signal : null });
      if (this.retired && this.children.size === 0) this.close();
    } else if (m.t === "ready" && this.state === "starting") {
      const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
      this.startupUs = cpuUs(this.pid);
      this.rssKiB = readRss(this.pid);
      this.resolveReady({
        clean: m.clean === true,
        dropped: Array.isArray(m.dropped) ? (m.dropped as [string, string][]) : [],
        envRead: strings(m.env_read),
        cwdRead: m.cwd_read === true,
        umaskRead: m.umask_read === true,
        filesRead: strings(m.files_read),
        dirsListed: strings(m.dirs_listed),
        dirs: strings(m.dirs),
      });
    }
    for (const fd of fds) native.close(fd);
  }

  private send(message: DaemonToPythonTemplate, fds: number[]): void {
    if (!this.link?.open) throw new Error(`python template ${this.pid} has no link`);
    this.link.send(message, fds);
  }

  /** Closes the link: the template sees EOF and exits; running children finish on their own. */
  close(): void {
    this.link?.close();
    for (const resolve of this.forks.splice(0)) resolve(null);
    if (this.state === "starting") this.kill();
  }

  /** Whether a child of it is running a tool now. */
  get serving(): boolean {
    for (const child of this.children.values()) if (child.state === "running") return true;
    return false;
  }

  private gone(): void {
    this.resolveExited();
    this.state = "gone";
    this.resolveReady(null);
    this.close();
    for (const fd of this.ptys.splice(0)) native.close(fd);
    for (const child of this.children.values()) child.orphaned();
    this.children.clear();
  }
}

function readRss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
