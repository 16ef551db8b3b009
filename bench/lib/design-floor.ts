// The design floor: the least any warm Node run can cost on this machine.
// A node process started ahead, blocked in its preload phase, woken by one
// byte, running the empty script through Node's own bootstrap and reporting
// its end from 'exit' (floor-preload.cjs), driven by a C client as small as
// the shim can be (floor-client.c). warm does all of that plus the daemon's
// hop, fd passing and taking on argv, env and cwd, so its no-op cannot be
// faster than this row of the same paced run. wait-ready.cjs keeps one such
// server waiting whenever BENCH_FLOOR_DIR is set.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const FLOOR_CLIENT = "bench/out/floor-client";

/** Compiles the client (statically where libc.a allows, as the shim is linked). */
export function buildFloorClient(repo: string): void {
  const src = join(repo, "bench/lib/floor-client.c");
  const out = join(repo, FLOOR_CLIENT);
  mkdirSync(join(repo, "bench/out"), { recursive: true });
  for (const extra of [["-static"], []]) {
    if (spawnSync("cc", ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", ...extra, "-o", out, src], { stdio: "ignore" }).status === 0) return;
  }
  throw new Error(`bench: cannot compile ${src} with cc`);
}

/** A directory with the two FIFOs; its servers are started by wait-ready.cjs. */
export function makeFloorDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const fifo of ["req", "rep"]) {
    if (spawnSync("mkfifo", ["-m", "600", join(dir, fifo)]).status !== 0) throw new Error(`bench: mkfifo ${dir}/${fifo} failed`);
  }
}

/** Ends the server still waiting in dir, if any; returns its pid if it would not go. */
export async function stopFloor(dir: string): Promise<number | null> {
  const waiting = join(dir, "waiting");
  if (!existsSync(waiting)) return null;
  const pid = Number(readFileSync(waiting, "utf8"));
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return null;
  }
  for (let i = 0; i < 100; i++) {
    if (!existsSync(`/proc/${pid}`)) return null;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}
