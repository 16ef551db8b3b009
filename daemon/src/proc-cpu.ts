// CPU time a process has used so far, over all its threads (ns-precise, from
// /proc/<pid>/task/*/schedstat): the start-up work a warm process did before
// it was ready, which a direct run does too. Wall time would count the waits
// of a process started in the background on a busy machine.
import { readdirSync, readFileSync } from "node:fs";

export function cpuUs(pid: number): number {
  let ns = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]) || 0;
      } catch {
        // a thread that ended meanwhile
      }
    }
  } catch {
    return 0;
  }
  return ns / 1000;
}
