// The daemon's handle on one coprocess (protocol-spec/coprocess.md): starts
// the tool's command with the coprocess link on fd 3 (named by
// WARM_COPROCESS_FD), waits for its `hello`, sends it runs, and in fork mode
// asks it to reap each child (`wait`) and hears how the child ended.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import type { Logger } from "../../log";
import { native } from "../../native";
import type { ExitInfo } from "../../pool";
import { expireUnlessReady, spawnLinked } from "../linked-process";
import { poolStdio } from "../pool-stdio";
import { Link } from "../../link";
import { type CoprocessToDaemon, type DaemonToCoprocess, type Received, received, SPEC_MESSAGES } from "../../protocol/message-types";
import { intField, JSON_FRAMES, type JsonMessage } from "./wire";

const COPROCESS_SAYS = SPEC_MESSAGES["coprocess link"]["coprocess → daemon"];

export type Mode = "fork" | "serial";

/** The coprocess protocol's version (protocol-spec/coprocess.md), said in `hello`. */
export const COPROCESS_VERSION = 2;

export interface Hello {
  mode: Mode;
  watch: string[];
  env: string[];
}

export interface CoprocessSpec {
  command: string[];
  env: NodeJS.ProcessEnv;
  /** Which of fds 0-2 are terminals for this pool's callers ("t-t"). */
  mask: string;
  /** The mode the config asks for, if any: a coprocess saying another is broken. */
  mode: Mode | null;
  helloTimeoutMs: number;
}

// A coprocess asked to go that has not within this long is killed.
const STOP_GRACE_MS = 2000;

// Every coprocess not yet ended, whatever pool had it.
const live = new Set<Coprocess>();

/**
 * Resolves once every coprocess has ended; one still there after the grace
 * is killed. The daemon waits for it before exiting: stop()'s own timer does
 * not hold the daemon up, and a coprocess that ignores its link's end would
 * outlive it.
 */
export async function everyCoprocessEnded(): Promise<void> {
  const left = [...live];
  if (left.length === 0) return;
  const timer = setTimeout(() => left.forEach((c) => c.kill()), STOP_GRACE_MS);
  await Promise.all(left.map((c) => c.ended));
  clearTimeout(timer);
}

export class Coprocess {
  readonly child: ChildProcess;
  readonly pid: number;
  state: "starting" | "ready" | "gone" = "starting";
  readonly ready: Promise<Hello | null>;
  /** Resolves with how the coprocess itself ended. */
  readonly ended: Promise<ExitInfo>;
  mode: Mode = "fork";
  /** Serial mode: running an invocation now; reserved by a pool slot. */
  busy = false;
  reserved = false;
  /** Resident memory once it said hello (KiB), for the limits. */
  rssKiB = 0;
  /** Runs handed over and not yet reaped (fork) or finished (serial). */
  outstanding = 0;
  retired = false;
  /** Killed by the daemon for breaking the protocol (its death is then no tool's status). */
  killedForCause = false;
  private resolveReady!: (hello: Hello | null) => void;
  private resolveEnded!: (exit: ExitInfo) => void;
  private link: Link<JsonMessage> | null = null;
  private waits = new Map<number, (exit: ExitInfo | null) => void>();
  private ptys: number[] = [];
  readonly command: string;

  constructor(spec: CoprocessSpec, private readonly log: Logger) {
    this.command = spec.command.join(" ");
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    const { stdio, masters, slaves } = poolStdio(spec.mask);
    this.ptys = masters;
    const started = spawnLinked({ file: spec.command[0], args: spec.command.slice(1), env: { ...spec.env, WARM_COPROCESS_FD: "3" }, cwd: "/", stdio, handOver: slaves }, log, "coprocess");
    this.child = started.child;
    this.pid = started.pid;
    live.add(this);
    this.child.once("exit", (code, signal) => {
      this.link?.drain();
      if (this.state === "starting") log.warn({ pid: this.pid, code, signal, command: spec.command }, "coprocess ended before its hello");
      this.gone({ code, signal: signal ? (constants.signals[signal] ?? 9) : null });
    });
    this.child.once("error", (error) => {
      log.warn({ err: error.message, command: spec.command }, "coprocess failed to start");
      this.gone({ code: null, signal: null });
    });
    if (started.link < 0) return;
    expireUnlessReady(this.ready, spec.helloTimeoutMs, () => this.state === "starting", () => {
      log.warn({ pid: this.pid, command: spec.command, seconds: spec.helloTimeoutMs / 1000 }, "coprocess did not say hello in time; killed");
      this.kill();
    });
    this.link = new Link(
      started.link,
      JSON_FRAMES,
      {
        frame: (frame) => {
          // A type the coprocess link does not have breaks the protocol.
          const m = received<CoprocessToDaemon>(frame, COPROCESS_SAYS);
          if (m) this.handle(m, spec);
          else this.unexpected(frame.t);
        },
        ended: () => {
          // Its link closed: it is going (or broken); nothing more can be sent.
          if (this.state !== "gone") this.kill();
        },
        bad: (error) => {
          this.link?.close();
          this.broken(`bad frame: ${error.message}`);
        },
      },
      { wholeFramesOnly: true },
    );
  }

  /** Hands a run over: the caller's fds 0-2, the client link and the runner's end of a new run link. */
  send(message: DaemonToCoprocess, fds: number[]): void {
    if (!this.link?.open) throw new Error(`coprocess ${this.pid} has no link`);
    this.link.send(message, fds);
  }

  /** Fork mode: how child `pid` ended (the coprocess reaps it, and with `tell` tells the child's shim); null if the coprocess cannot say. */
  reap(pid: number, tell: boolean): Promise<ExitInfo | null> {
    const previous = this.waits.get(pid);
    if (previous) return new Promise((resolve) => this.waits.set(pid, (e) => (previous(e), resolve(e))));
    return new Promise((resolve) => {
      try {
        this.send({ t: "wait", pid, tell }, []);
        this.waits.set(pid, resolve);
      } catch {
        resolve(null);
      }
    });
  }

  /** Whether `pid` (a runner's `taken`) can be this coprocess's runner: itself (serial) or its child (fork). */
  owns(pid: number): boolean {
    if (this.mode === "serial") return pid === this.pid;
    return parentOf(pid) === this.pid;
  }

  /** It has ended and is not yet reaped (a zombie): its exit event is on its way. */
  dead(): boolean {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
    } catch {
      return true;
    }
  }

  /** Stops taking runs; it goes once those it has are done. */
  retire(): void {
    this.retired = true;
    if (this.outstanding === 0) this.stop();
  }

  /** A run is done with this coprocess. */
  finishedOne(): void {
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (this.retired && this.outstanding === 0) this.stop();
  }

  broken(why: string): void {
    this.log.warn({ pid: this.pid, why }, "coprocess broke the protocol; killed");
    this.killedForCause = true;
    this.kill();
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.state === "gone" || this.pid < 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  /** Closes its link once what was sent is written (it exits at EOF), and kills it if it lingers. */
  stop(): void {
    this.link?.closeWhenSent();
    if (this.state === "gone") return;
    if (this.state === "starting") return this.kill();
    const timer = setTimeout(() => this.kill(), STOP_GRACE_MS);
    timer.unref();
    void this.ended.then(() => clearTimeout(timer));
  }

  private handle(m: Received<CoprocessToDaemon>, spec: CoprocessSpec): void {
    if (this.state === "starting") {
      if (m.t !== "hello") return this.unexpected(m.t);
      const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
      if (m.v !== COPROCESS_VERSION) return this.broken(`speaks coprocess protocol version ${String(m.v)}, not ${COPROCESS_VERSION}`);
      if (m.mode !== "fork" && m.mode !== "serial") return this.broken(`unknown mode ${String(m.mode)}`);
      if (spec.mode && m.mode !== spec.mode) return this.broken(`says mode ${m.mode}; the config says ${spec.mode}`);
      if (intField(m, "pid") !== this.pid) return this.broken(`says pid ${String(m.pid)}; it is ${this.pid}`);
      if ((m.watch !== undefined && !strings(m.watch)) || (m.env !== undefined && !strings(m.env))) return this.broken("watch and env must be arrays of str");
      this.mode = m.mode;
      this.state = "ready";
      this.rssKiB = readRss(this.pid);
      this.resolveReady({ mode: m.mode, watch: (m.watch as string[] | undefined) ?? [], env: (m.env as string[] | undefined) ?? [] });
    } else if (m.t === "exit") {
      const pid = intField(m, "pid");
      const resolve = pid === null ? undefined : this.waits.get(pid);
      if (!resolve || pid === null) return this.broken(`exit for a child it was not asked about: ${String(m.pid)}`);
      this.waits.delete(pid);
      const code = intField(m, "code");
      const signal = intField(m, "signal");
      resolve(code !== null && code >= 0 && code <= 255 ? { code, signal: null } : signal !== null && signal > 0 && signal < 65 ? { code: null, signal } : null);
    } else if (m.t === "error") {
      this.log.warn({ pid: this.pid, why: String(m.why) }, "coprocess reported an error");
    } else {
      this.unexpected(m.t);
    }
  }

  /** A frame its link does not have, or one out of turn: the coprocess is broken. */
  private unexpected(t: unknown): void {
    this.broken(this.state === "starting" ? `first frame is "${String(t)}", not hello` : `unexpected "${String(t)}" on the coprocess link`);
  }

  private gone(exit: ExitInfo): void {
    if (this.state === "gone") return;
    this.state = "gone";
    live.delete(this);
    this.resolveReady(null);
    this.link?.close();
    for (const resolve of this.waits.values()) resolve(null);
    this.waits.clear();
    for (const fd of this.ptys.splice(0)) native.close(fd);
    this.resolveEnded(exit);
  }
}

function readRss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}
