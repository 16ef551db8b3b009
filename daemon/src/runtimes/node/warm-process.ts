// The daemon's handle on one warm Node process: starts it with the runtime
// link on its fd 3, follows its `ready` and `loaded` messages, hands it one
// request, and reports how it ended (from waitpid, via the child's exit).
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Link } from "../../link";
import { type Message, MSGPACK } from "../../protocol/codec";
import type { Logger } from "../../log";
import { type ExitInfo, killPid, type WarmProcess as WarmHandle } from "../../pool";
import { constants } from "node:os";
import { type ArgvQuery, type DaemonToNodeTemplate, type NodePreload, type NodeTemplateToDaemon, type Received, received, SPEC_MESSAGES, type WarmToDaemon } from "../../protocol/message-types";
import { cpuUs } from "../../proc-cpu";
import { expireUnlessReady, spawnLinked } from "../linked-process";
import { native } from "../../native";
import { NODE_LINK_FD } from "../../inside-node/link-fd";

/** What runs inside the warm process (daemon/src/inside-node/main.ts), loaded by --require. */
export const INSIDE_MAIN_JS = join(__dirname, "..", "..", "inside-node", "main.js");

const WARM_SAYS = SPEC_MESSAGES["runtime link"]["warm → daemon"];
// A template's link carries both what a warm process says and what a template does.
const TEMPLATE_SAYS = [...WARM_SAYS, ...SPEC_MESSAGES["Node template link"]["template → daemon"]];

export interface ReadyInfo {
  clean: boolean;
  dropped: [string, string][];
  envRead: string[];
  envEnumerated: boolean;
  argvQueries: ArgvQuery[];
  cwdRead: boolean;
  filesRead: string[];
  /** Of those, the files that are not modules, with the modules that were loading when each was read. */
  readBy: [string, string[]][];
}


export interface LaunchSpec {
  nodeExe: string;
  /** node's argv after argv[0]: its flags, then the script. */
  args: string[];
  argv0: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  preload: NodePreload;
  /** Killed if not ready by then (a module that hangs while loading). */
  readyTimeoutMs: number;
}

/** What a warm process tells its runtime besides its own lifecycle. */
export interface ProcessHooks {
  /** Modules its run loaded that were not preloaded. */
  loaded(modules: [string, string][]): void;
  /** The tool opened /dev/tty. */
  needsTty(): void;
  /** CPU time (microseconds) its run took. */
  cost(us: number): void;
  /** For a template (its link then carries fds): `forked`, `fork_failed` and its children's `exit`. */
  templateFrame?(m: Received<NodeTemplateToDaemon>, fds: number[]): void;
}

export class WarmProcess implements WarmHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  state: "starting" | "ready" | "running" | "gone" = "starting";
  readonly ready: Promise<ReadyInfo | null>;
  readonly exited: Promise<ExitInfo>;
  /** Resident memory once ready (KiB), for the memory limits; 0 until then. */
  rssKiB = 0;
  startupUs = 0;
  private link: Link<Message> | null = null;
  private resolveReady!: (info: ReadyInfo | null) => void;
  private resolveExit!: (info: ExitInfo) => void;
  private resolveTaken: ((taken: boolean) => void) | null = null;
  /** The status the process reported before closing its fds (see exit.ts). */
  private reportedCode: number | null = null;

  constructor(
    spec: LaunchSpec,
    private readonly log: Logger,
    private readonly hooks: ProcessHooks,
  ) {
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    // The runtime rides in on NODE_OPTIONS so the tool's process.execArgv stays its own.
    const nodeOptions = `${spec.env.NODE_OPTIONS ?? ""} --require ${JSON.stringify(INSIDE_MAIN_JS)}`.trim();
    const started = spawnLinked(
      {
        file: spec.nodeExe,
        args: spec.args,
        argv0: spec.argv0,
        // WARM_NODE_OPTIONS: what the caller had, which preloading modules see as NODE_OPTIONS (env-view.ts).
        env: { ...spec.env, NODE_OPTIONS: nodeOptions, WARM_RUNTIME_LINK: String(NODE_LINK_FD), WARM_NODE_OPTIONS: spec.env.NODE_OPTIONS === undefined ? "" : `=${spec.env.NODE_OPTIONS}` },
        cwd: spec.cwd,
        // stderr reaches the log until the process takes a caller's fds.
        stdio: ["ignore", "ignore", "pipe"],
        daemonSession: true,
        linkFd: NODE_LINK_FD,
      },
      log,
      "warm process",
    );
    this.child = started.child;
    this.pid = started.pid;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.child.once("exit", (code, signal) => {
      this.link?.drain(); // what it said just before it ended
      // Ended by itself before `ready`: a module threw or exited while loading (what it printed went to the
      // pipe that catches output while preloading): said here, as the pool stops after a few such ends.
      if (this.state === "starting" && code !== null) log.warn({ pid: this.pid, script: String(spec.preload.script), code }, "warm process ended while preloading (a module threw or exited as it loaded)");
      this.state = "gone";
      this.resolveReady(null);
      this.resolveTaken?.(false);
      this.closeLink();
      // Died between `exit` and `closed` (another thread aborting as fds closed): the tool had finished.
      this.resolveExit(this.reportedCode !== null ? { code: this.reportedCode, signal: null } : { code, signal: signal ? (constants.signals[signal] ?? 9) : null });
    });
    this.child.once("error", (error) => {
      log.warn({ err: error.message, node: spec.nodeExe }, "warm process failed to start");
      this.state = "gone";
      this.resolveReady(null);
      this.resolveTaken?.(false);
      this.closeLink();
    });
    if (started.link < 0) return;
    expireUnlessReady(this.ready, spec.readyTimeoutMs, () => this.state === "starting", () => {
      log.warn({ pid: this.pid, script: String(spec.preload.script), seconds: spec.readyTimeoutMs / 1000 }, "warm process did not finish preloading in time; killed");
      this.kill();
    });
    this.link = new Link(
      started.link,
      MSGPACK,
      {
        frame: (frame, fds) => {
          const m = received<WarmToDaemon | NodeTemplateToDaemon>(frame, hooks.templateFrame ? TEMPLATE_SAYS : WARM_SAYS);
          if (!m) return closeAll(fds);
          if (hooks.templateFrame && (m.t === "forked" || m.t === "fork_failed" || (m.t === "exit" && typeof m.pid === "number"))) hooks.templateFrame(m, fds);
          else this.handle(m);
        },
        ended: () => {},
        bad: (error) => {
          this.log.warn({ pid: this.pid, err: error.message }, "bad frame from warm process");
          this.kill();
        },
      },
      // `forked` carries the child's link; one cut short fails that fork, not the template.
      { acceptsFds: hooks.templateFrame !== undefined, cutFdsFailFrame: true },
    );
    this.send(spec.preload, []);
  }

  private handle(m: Received<WarmToDaemon | NodeTemplateToDaemon>): void {
    if (m.t === "ready" && this.state === "starting") {
      const info: ReadyInfo = {
        clean: m.clean === true,
        dropped: Array.isArray(m.dropped) ? (m.dropped as [string, string][]) : [],
        envRead: Array.isArray(m.env_read) ? (m.env_read as string[]) : [],
        envEnumerated: m.env_enumerated === true,
        argvQueries: Array.isArray(m.argv_queries) ? (m.argv_queries as ArgvQuery[]) : [],
        cwdRead: m.cwd_read === true,
        filesRead: Array.isArray(m.files_read) ? (m.files_read as string[]).filter((f) => typeof f === "string") : [],
        readBy: Array.isArray(m.files_read_by) ? (m.files_read_by as [string, string[]][]).filter((r) => Array.isArray(r)) : [],
      };
      if (info.clean) this.state = "ready";
      this.rssKiB = readRss(this.pid);
      this.startupUs = cpuUs(this.pid);
      this.resolveReady(info);
    } else if (m.t === "loaded" && Array.isArray(m.modules)) {
      this.hooks.loaded(m.modules as [string, string][]);
    } else if (m.t === "taken") {
      this.resolveTaken?.(true);
    } else if (m.t === "needs_tty") {
      this.hooks.needsTty();
    } else if (m.t === "exit" && this.state === "running" && typeof m.code === "number") {
      this.reportedCode = m.code;
      if (typeof m.cpu_us === "number") this.hooks.cost(m.cpu_us);
    } else if (m.t === "closed" && this.reportedCode !== null) {
      // Every fd of the tool is closed, and the shim has its status.
      this.resolveExit({ code: this.reportedCode, signal: null, told: true });
    }
  }

  /**
   * Hands the request and the caller's three fds and the client link over.
   * Resolves true once the process has taken them (no tool code has run
   * yet), false if it died first: then nothing ran and the command may
   * still run directly.
   * Throws if the link is already gone.
   */
  run(message: Message, fds: number[]): Promise<boolean> {
    if (this.state !== "ready") throw new Error(`warm process ${this.pid} is ${this.state}`);
    this.state = "running";
    const taken = new Promise<boolean>((resolve) => (this.resolveTaken = resolve));
    this.send(message, fds);
    return taken;
  }

  /** A frame to a template (`fork`); throws if the link is gone. */
  sendFrame(message: DaemonToNodeTemplate): void {
    this.send(message, []);
  }

  private send(message: Message, fds: number[]): void {
    if (!this.link?.open) throw new Error(`warm process ${this.pid} has no link`);
    this.link.send(message, fds);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.state === "gone") return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  callerGone(): void {
    // The shim may have gone because this process gave it the tool's status:
    // read what the process said before judging (the tool's leftover
    // children in its group must not be touched, as in a direct run).
    this.link?.drain();
    if (this.reportedCode === null && this.state !== "gone") killPid(this.pid);
  }

  /** Lets an idle warm process (or a template) go quietly: it sees EOF on its link and exits. */
  release(): void {
    if (this.state === "ready" || this.state === "starting") this.closeLink();
    if (this.state === "starting") this.kill();
  }

  private closeLink(): void {
    this.link?.close();
  }
}

export function readRss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) native.close(fd);
}
