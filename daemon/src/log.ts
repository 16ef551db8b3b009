// The daemon's JSON log (pino, asynchronous, so logging never blocks a run).
// A full disk or an unwritable state dir drops log lines, never a run.
//
// The destination is a SonicBoom made here rather than pino.destination():
// that one registers a synchronous flush for process exit, and SonicBoom's
// flushSync retries a failing write (ENOSPC) forever, so a daemon on a full
// disk could never exit. Lines still buffered when the daemon exits are lost.
// Its own `mkdir` option is not used either: Node's recursive mkdir spins
// forever on a path such as /proc/self/x (see makeDirs).
import { openSync } from "node:fs";
import { dirname } from "node:path";
import pino, { type Logger } from "pino";
import SonicBoom from "sonic-boom";
import { makeDirs } from "./paths";

export type { Logger };

// What the daemon could not do with its files (state, log), each said once:
// in the log when there is one, and in `warm status`.
const problems = new Map<string, string>();

/** Records a file-system failure once per `what`; true the first time. */
export function fileProblem(log: Logger | null, what: string, error: unknown): boolean {
  if (problems.has(what)) return false;
  const message = `${what}: ${(error as Error)?.message ?? String(error)}`;
  problems.set(what, message);
  log?.warn({ problem: message }, "going on without it");
  return true;
}

/** Every problem recorded so far, as one line each. */
export function fileProblems(): string[] {
  return [...problems.values()];
}

export function createLogger(file: string, level: string): Logger {
  // Opened here, synchronously: a log that cannot be opened is said once
  // and the daemon runs without one (SonicBoom would buffer lines for an
  // unopened file without end).
  let fd: number;
  try {
    makeDirs(dirname(file));
    fd = openSync(file, "a", 0o600);
  } catch (error) {
    fileProblem(null, `cannot log to ${file}`, error);
    return pino({ level: "silent" });
  }
  const destination = new SonicBoom({ fd, sync: false });
  const log = pino({ level, base: { pid: process.pid } }, destination);
  // Open and write failures (EACCES, EROFS, ENOSPC) arrive as 'error'
  // events; unheard they would crash the daemon. Said once, then dropped.
  destination.on("error", (error) => fileProblem(null, `cannot log to ${file}`, error));
  return log;
}
