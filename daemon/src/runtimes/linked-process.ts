// Starting a process the daemon talks to on a link (a warm Node process, a
// Python template, a coprocess): in its own process group (signals go to
// -pid), with fds 0-2 as its pool's callers need them and the other end of
// a socketpair as fd 3, or the fd it asks for (fds between stay closed);
// what it writes to a stderr pipe goes to the log. One that is not ready in
// time is killed.
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "../log";
import { native } from "../native";

export interface LinkedStart {
  file: string;
  args: string[];
  argv0?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** fds 0-2 ("pipe" for stderr: what it writes goes to the log). */
  stdio: ("ignore" | "pipe" | number)[];
  /** fds only the process needs (pty slaves): closed here once it is spawned. */
  handOver?: number[];
  /**
   * Stays in the daemon's session, and makes its own process group itself
   * first thing (native.ownProcessGroup): a tool runs in it, and must be able
   * to stop itself. Otherwise it gets a session of its own (setsid).
   */
  daemonSession?: boolean;
  /** The fd its end of the link is (3 if not set). */
  linkFd?: number;
}

/**
 * The process, its pid and the daemon's end of its link; pid and link are -1
 * if it could not be started (its `error` event says why).
 */
export function spawnLinked(start: LinkedStart, log: Logger, what: string): { child: ChildProcess; pid: number; link: number } {
  const [mine, theirs] = native.socketpair();
  let child: ChildProcess;
  try {
    child = spawn(start.file, start.args, { argv0: start.argv0, env: start.env, cwd: start.cwd, stdio: [...start.stdio, ...Array<"ignore">(Math.max(0, (start.linkFd ?? 3) - 3)).fill("ignore"), theirs], detached: start.daemonSession !== true });
  } finally {
    native.close(theirs);
    for (const fd of start.handOver ?? []) native.close(fd);
  }
  const pid = child.pid ?? -1;
  child.stderr?.on("data", (chunk: Buffer) => log.warn({ pid, stderr: chunk.toString("utf8", 0, 2000) }, `${what} wrote to stderr`));
  if (pid >= 0) return { child, pid, link: mine };
  native.close(mine);
  return { child, pid, link: -1 };
}

/** Calls `expired` (which says why and kills the process) if `ready` has not settled within `ms` while `starting()` still holds. */
export function expireUnlessReady(ready: Promise<unknown>, ms: number, starting: () => boolean, expired: () => void): void {
  const timer = setTimeout(() => {
    if (starting()) expired();
  }, ms);
  timer.unref();
  void ready.then(() => clearTimeout(timer));
}
