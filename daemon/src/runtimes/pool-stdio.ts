// The fds 0-2 a process waiting for a pool's callers starts with: a
// pseudo-terminal where the pool's callers have a terminal (so what its
// language decides at start-up from isatty is what a direct run decides),
// else /dev/null; stderr otherwise a pipe to the daemon's log.
import { native } from "../native";

export interface PoolStdio {
  stdio: ("ignore" | "pipe" | number)[];
  /** Pty masters the daemon keeps while the process lives. */
  masters: number[];
  /** Pty slaves to close once the process is spawned. */
  slaves: number[];
}

export function poolStdio(mask: string): PoolStdio {
  const out: PoolStdio = { stdio: [], masters: [], slaves: [] };
  for (let fd = 0; fd < 3; fd++) {
    if (mask[fd] === "t") {
      const pty = native.openpty();
      out.masters.push(pty.master);
      out.slaves.push(pty.slave);
      out.stdio.push(pty.slave);
    } else out.stdio.push(fd === 2 ? "pipe" : "ignore");
  }
  return out;
}
