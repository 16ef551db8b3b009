// One invocation's handle on a coprocess (a pool slot): hands the run over
// with the client link and a new run link (the runner tells the shim
// `started` and `exit` itself), and learns how the run ended: from the
// runner's `exit`, else (fork) from the coprocess's `wait` answer (the
// coprocess tells the shim), else (serial) from the coprocess's own death.
import { readFileSync } from "node:fs";
import type { Logger } from "../../log";
import { native } from "../../native";
import { type ExitInfo, killPid, type WarmProcess } from "../../pool";
import type { Message } from "../../protocol/codec";
import type { Coprocess } from "./coprocess";
import { Link } from "../../link";
import { type DaemonToCoprocess, type Received, received, type RunnerToDaemon, SPEC_MESSAGES } from "../../protocol/message-types";
import { intField, JSON_FRAMES, type JsonMessage } from "./wire";

const RUNNER_SAYS = SPEC_MESSAGES["run link"]["runner → daemon"];

// A runner that has not said `taken` this long after its run (or the
// preload timeout, if shorter) is broken: nothing of the tool ran, so the
// caller runs directly.
const START_TIMEOUT_MS = 5000;

const LOST = (command: string) => `the coprocess running ${command} could not say how the run ended`;

/**
 * Whether `pid` is dying or dead (exiting, a zombie not yet reaped, or
 * gone): the kernel closes a dying process's fds, and so its run link,
 * before the daemon can hear of its exit; then its exit, not the closed
 * link, says how the run ended.
 */
function dying(pid: number): boolean {
  const PF_EXITING = 0x4;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return /^[ZX]/.test(fields[0]) || (Number(fields[6]) & PF_EXITING) !== 0;
  } catch {
    return true;
  }
}

export class CoprocessRun implements WarmProcess {
  state: WarmProcess["state"] = "starting";
  readonly ready: Promise<object | null>;
  readonly exited: Promise<ExitInfo>;
  rssKiB = 0;
  /** The runner's pid once it has started (before that, the coprocess's, for status). */
  pid: number;
  private link: Link<JsonMessage> | null = null;
  private resolveExit!: (info: ExitInfo) => void;
  private resolveTaken: ((taken: boolean) => void) | null = null;
  private runner = -1;
  private reported = false;
  private done = false;
  /** The daemon killed the runner (`warm stop --now`): it answers the caller, the coprocess must not. */
  private silenced = false;

  private readonly startTimeoutMs: number;

  constructor(readonly coprocess: Coprocess, private readonly log: Logger, timeoutMs: number) {
    this.startTimeoutMs = Math.min(START_TIMEOUT_MS, timeoutMs);
    this.pid = coprocess.pid;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = coprocess.ready.then((hello) => {
      if (!hello || this.state !== "starting") {
        this.state = "gone";
        return null;
      }
      this.state = "ready";
      // A serial coprocess is this slot's alone; a fork-mode one is counted once, as the pool's helper.
      if (coprocess.mode === "serial") this.rssKiB = coprocess.rssKiB;
      return hello;
    });
    // A slot of a coprocess that ended is no slot: the pool skips it.
    void coprocess.ended.then(() => {
      if (this.state === "ready" || this.state === "starting") this.state = "gone";
    });
  }

  run(message: Message, fds: number[]): Promise<boolean> {
    if (this.state !== "ready" || this.coprocess.state !== "ready") throw new Error(`coprocess ${this.coprocess.pid} is ${this.coprocess.state}`);
    this.state = "running";
    this.coprocess.outstanding++;
    if (this.coprocess.mode === "serial") this.coprocess.busy = true;
    const taken = new Promise<boolean>((resolve) => (this.resolveTaken = resolve));
    const [mine, theirs] = native.socketpair();
    try {
      // The message this runtime made for the run (coprocess/runtime.ts).
      this.coprocess.send(message as DaemonToCoprocess, [...fds, theirs]);
    } catch (error) {
      native.close(mine);
      this.finish(null);
      throw error;
    } finally {
      native.close(theirs);
    }
    this.link = new Link(
      mine,
      JSON_FRAMES,
      {
        frame: (frame) => {
          // A type the run link does not have is a protocol error, as one out of turn is.
          const m = received<RunnerToDaemon>(frame, RUNNER_SAYS);
          if (m) this.handle(m);
          else this.unexpected(frame.t);
        },
        ended: () => this.linkEnded(),
        bad: (error) => {
          this.link?.close();
          this.log.warn({ pid: this.runner, err: error.message }, "bad frame on a coprocess run link");
          this.linkEnded();
        },
      },
      { wholeFramesOnly: true },
    );
    const timer = setTimeout(() => {
      if (this.runner >= 0 || this.done) return;
      this.coprocess.broken(`no taken within ${this.startTimeoutMs / 1000}s of a run`);
      this.link?.close();
      this.linkEnded();
    }, this.startTimeoutMs);
    timer.unref();
    void this.coprocess.ended.then((exit) => this.coprocessEnded(exit));
    return taken;
  }

  get shares(): boolean {
    return this.coprocess.mode === "fork";
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    const pid = this.runner >= 0 ? this.runner : -1;
    if (pid < 0) return this.coprocess.kill(signal);
    if (this.done) return;
    this.silenced = true;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  callerGone(): void {
    this.link?.drain();
    if (!this.reported && !this.done && this.runner >= 0) killPid(this.runner);
  }

  release(): void {
    if (this.state === "ready" || this.state === "starting") {
      this.state = "gone";
      this.coprocess.reserved = false;
    }
  }

  private handle(m: Received<RunnerToDaemon>): void {
    if (m.t === "taken" && this.runner < 0) {
      const pid = intField(m, "pid");
      if (pid === null || !this.coprocess.owns(pid)) {
        // Not its own child (or itself): nothing may go to that pid. The runner
        // may have told the shim `started` already, so the caller gets an error
        // (which a shim that has not seen `started` takes as: run it directly).
        // (A child whose coprocess died meanwhile has another parent now: that is a coprocess that died mid-run.)
        const lost = this.coprocess.dead() ? LOST(this.coprocess.command) : `a runner of ${this.coprocess.command} said pid ${String(m.pid)}, which is not ${this.coprocess.mode === "serial" ? "the coprocess" : "a child of the coprocess"}`;
        this.coprocess.broken(lost);
        this.link?.close();
        this.resolveTaken?.(true);
        this.resolveTaken = null;
        return this.finish({ code: null, signal: null, lost });
      }
      this.runner = pid;
      this.pid = pid;
      this.resolveTaken?.(true);
      this.resolveTaken = null;
    } else if (m.t === "exit" && this.runner >= 0 && !this.reported) {
      const code = intField(m, "code");
      if (code === null || code < 0 || code > 255) {
        this.log.warn({ pid: this.runner, code: m.code }, "bad exit code on a run link");
        this.link?.close();
        return this.linkEnded();
      }
      // The runner told the shim before this: the daemon has nothing to say.
      this.reported = true;
      this.link?.close();
      // `wait` goes before finish(): finishing the last run of a retired coprocess stops it (its link closes).
      if (this.coprocess.mode === "fork") void this.coprocess.reap(this.runner, false);
      this.finish({ code, signal: null, told: true });
    } else {
      this.unexpected(m.t);
    }
  }

  private unexpected(t: unknown): void {
    this.log.warn({ pid: this.runner, t: String(t) }, "unexpected frame on a coprocess run link");
    this.link?.close();
    this.linkEnded();
  }

  /** The run link closed before the runner reported a status. */
  private linkEnded(): void {
    if (this.reported || this.done) return;
    if (this.runner < 0) {
      // Nothing ran (the runner never said `taken`): the caller runs directly.
      // A child that died before `taken` cannot be reaped by pid: the coprocess goes.
      if (this.coprocess.mode === "fork") this.coprocess.broken("a run link closed before taken");
      this.resolveTaken?.(false);
      this.resolveTaken = null;
      return this.finish({ code: null, signal: null });
    }
    if (this.coprocess.mode === "fork") {
      // The coprocess reaps the child and tells the shim how it ended (unless the daemon answers: stop --now).
      const tell = !this.silenced;
      void this.coprocess.reap(this.runner, tell).then((exit) => this.finish(exit && { ...exit, told: tell }));
    } else if (this.coprocess.state !== "gone" && !this.coprocess.dead() && !dying(this.runner)) {
      // A serial runner that let go of its link mid-run cannot report: it goes, and the caller hears why.
      // (One that died is reported when its exit is seen: a signal that ended it is the run's.)
      this.coprocess.broken("a serial run link closed before exit");
    }
  }

  private coprocessEnded(exit: ExitInfo): void {
    if (this.done) return;
    this.resolveTaken?.(false);
    this.resolveTaken = null;
    // A serial coprocess is the runner: its death is the run's, unless the daemon killed it for cause.
    if (this.coprocess.mode === "serial" && this.runner >= 0 && !this.coprocess.killedForCause) return this.finish(exit);
    if (this.coprocess.mode === "fork" && this.runner >= 0 && this.link?.open) return; // the child may still report
    this.finish(null);
  }

  /** The run is over: `exit` null when its status cannot be known (the caller gets an error). */
  private finish(exit: ExitInfo | null): void {
    if (this.done) return;
    this.done = true;
    this.state = "gone";
    this.link?.close();
    this.coprocess.busy = false;
    this.coprocess.reserved = false;
    this.coprocess.finishedOne();
    this.resolveExit(exit ?? { code: null, signal: null, lost: LOST(this.coprocess.command) });
  }
}
