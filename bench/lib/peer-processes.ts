// Finding a peer daemon's processes (prettierd's server, chg's server) and
// waiting for them to go: the peers start their servers themselves, so the
// benchmark finds them by an environment marker and their command line.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { alive } from "./warm-instance";

/** pid → command line of every process whose environment holds `envMarker` and whose command line passes `matches`. */
export function findPeers(envMarker: string, matches: (cmd: string) => boolean = () => true): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (!matches(cmd) || !readFileSync(`/proc/${name}/environ`, "utf8").includes(envMarker)) continue;
      found.set(Number(name), cmd);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Waits (bounded) until none of `pids` is alive; returns those still alive. */
export async function waitGone(pids: Map<number, string>, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = [...pids].filter(([pid, cmd]) => alive(pid, cmd)).map(([pid]) => pid);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20);
    left = left.filter((pid) => alive(pid, pids.get(pid)!));
  }
  return left;
}
