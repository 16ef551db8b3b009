// A tool that signals its parent (fixtures/signal-parent.js, and
// python/signal_parent.py), and what that
// did to the parent.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { fixture, NODE, PYTHON, WARM } from "./warm-env";

/**
 * The command (to run as is, not under warm) running the fixture through warm
 * under a shell that waits for it: were the run ever direct, its parent
 * would be that shell, not the test runner.
 */
export function signalParent(signal: string, tool: "node" | "python" = "node"): string[] {
  const command = tool === "node" ? [NODE, fixture("signal-parent.js")] : [PYTHON, fixture("python/signal_parent.py")];
  return ["sh", "-c", '"$@"; exit $?', "sh", WARM, ...command, signal];
}

/** The TCP ports a process listens on: its sockets' inodes looked up in /proc/net/tcp and tcp6 (Node's inspector would be one). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkOr(`/proc/${pid}/fd/${fd}`));
    if (m) inodes.add(m[1]);
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return ""; // closed since it was listed
  }
}
