// Runs of the gated fixtures (test/fixtures/gated.js, python/gated.py)
// through the real shim: each prints its pid, waits for its gate file, then
// prints "done <code>" and exits with that code. Lifecycle and fault tests
// use them to act while a tool is known to be running.
import type { ChildProcess } from "node:child_process";
import { fixture, NODE, PYTHON, type WarmEnv } from "./warm-env";

export type Runtime = "node" | "python";
export const RUNTIMES: Runtime[] = ["node", "python"];

/** The command line that runs the gated tool of a runtime. */
export function gatedArgs(runtime: Runtime, gate: string, code: number | "throw", tick = false): string[] {
  const tool = runtime === "node" ? [NODE, fixture("gated.js")] : [PYTHON, fixture("python/gated.py")];
  return [...tool, gate, String(code), ...(tick ? ["tick"] : [])];
}

export interface GatedRun {
  child: ChildProcess;
  /** The tool's pid, once it printed it. */
  pid: Promise<number>;
  /** The shim's end: its status and everything it wrote (stdout ends when every writer is gone). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
}

export function startGated(w: WarmEnv, runtime: Runtime, gate: string, code: number | "throw", opts: { tick?: boolean; env?: NodeJS.ProcessEnv } = {}): GatedRun {
  const child = w.start(gatedArgs(runtime, gate, code, opts.tick), opts.env ? { env: opts.env } : {});
  let out = "";
  let err = "";
  let resolvePid!: (pid: number) => void;
  const pid = new Promise<number>((resolve) => (resolvePid = resolve));
  child.stdout?.on("data", (d) => {
    out += d;
    const m = /^pid (\d+)\n/.exec(out);
    if (m) resolvePid(Number(m[1]));
  });
  child.stderr?.on("data", (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on("close", (c, signal) => resolve({ code: c, signal, out, err })),
  );
  return { child, pid, done };
}

/** What a gated run prints when it completes. */
export function completed(pid: number, code: number | "throw"): string {
  return `pid ${pid}\ndone ${code}\n`;
}
