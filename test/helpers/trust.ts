// What the trust tests share (trust-*.test.ts): a caller run with its
// output in files, compared with the direct run bar warm's own lines; the
// worst wall time of a caller, printed; a counting tool; a fake server.
// The callers measured use the shim's default WARM_TIMEOUT_MS (1500);
// setting a case up (warming a pool) uses WarmEnv's generous one, so a
// loaded machine does not turn those runs direct.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixture, NODE, PYTHON, until, WARM, WarmEnv } from "./warm-env";

/** An echo the shim asks the daemon about (a native binary such as /bin/echo it runs without connecting). */
export const ECHO = fixture("not-warm.sh");

export const isRoot = process.getuid?.() === 0;
export const NOBODY = ["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"];

export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs argv (through warm unless direct) with stdout and stderr going to
 * files, not pipes: a caller whose request sits unread in a stopped
 * daemon's queue has its fds held there, and a pipe would not see EOF.
 */
export function call(env: NodeJS.ProcessEnv, argv: string[], opts: { direct?: boolean; cwd?: string; wrap?: string[] } = {}): Outcome {
  const dir = mkdtempSync(join(tmpdir(), "warm-trust-out-"));
  const out = openSync(join(dir, "out"), "w");
  const err = openSync(join(dir, "err"), "w");
  const cmd = [...(opts.wrap ?? []), ...(opts.direct ? argv : [WARM, ...argv])];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env, cwd: opts.cwd, stdio: ["ignore", out, err], timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  closeSync(out);
  closeSync(err);
  const result = { status: r.status, stdout: readFileSync(join(dir, "out"), "utf8"), stderr: readFileSync(join(dir, "err"), "utf8"), ms };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Asserts a caller ran the command exactly as directly, bar warm's own lines on stderr. */
export function sameAsDirect(got: Outcome, direct: Outcome, warmSays?: RegExp): void {
  assert.equal(got.stdout, direct.stdout);
  assert.equal(got.status, direct.status);
  // warm's own lines: what it says ("warm: ..."), and its trace ("warm[pid] ...") where a case turns WARM_DEBUG on.
  const lines = got.stderr.split("\n").filter((l) => !l.startsWith("warm["));
  const own = lines.filter((l) => l.startsWith("warm: "));
  const rest = lines.filter((l) => !l.startsWith("warm: ")).join("\n");
  assert.equal(rest, direct.stderr);
  if (warmSays) assert.match(own.join("\n"), warmSays);
  else assert.deepEqual(own, []);
}

export function worst(label: string, outcomes: Outcome[]): void {
  console.log(`# ${label}: worst caller wall time ${Math.max(...outcomes.map((o) => o.ms)).toFixed(0)} ms over ${outcomes.length} callers`);
}

/** The env of a measured caller: the shim's default limit, and its trace (shown when an assertion fails). */
export function measured(env: WarmEnv): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...env.env, WARM_DEBUG: "1" };
  delete e.WARM_TIMEOUT_MS;
  return e;
}

/** Makes the daemon's heartbeat fresh, as it is a moment after the daemon last turned its loop. */
export function freshHeartbeat(env: WarmEnv): void {
  utimesSync(join(env.runtimeDir, "daemon.sock"), 0, Date.now() / 1000);
}

/** A tool that counts its runs in a file and prints one line. */
export function countingTool(env: WarmEnv, kind: "node" | "python"): { argv: string[]; runs: () => number; file: string } {
  const file = join(env.dir, `count-${kind}`);
  writeFileSync(file, "");
  if (kind === "node") {
    const script = join(env.work, "count.js");
    writeFileSync(script, `require("fs").appendFileSync(${JSON.stringify(file)}, "x"); console.log("ran once");\n`);
    return { argv: [NODE, script], runs: () => readFileSync(file, "utf8").length, file };
  }
  const script = join(env.work, "count.py");
  writeFileSync(script, `open(${JSON.stringify(file)}, "a").write("x")\nprint("ran once")\n`);
  return { argv: [PYTHON, script], runs: () => readFileSync(file, "utf8").length, file };
}

export function gone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

/** Waits (bounded) for a process to exit; throws if it has not by then (a test must not go on as if it had). */
export async function untilGone(pid: number, ms = 10_000): Promise<void> {
  await until(`${pid} to exit`, () => gone(pid), ms);
}

export function resume(pid: number): void {
  try {
    process.kill(pid, "SIGCONT");
  } catch {
    // gone already
  }
}

export function stopped(pid: number): boolean {
  try {
    return /^\S+ \(.*\) [tT] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** A Python one-liner server (as `setprivArgs`' user, if any) that reports "ready" on stdout and counts what it receives. */
export function fakeServer(code: string, setprivArgs: string[] = []): Promise<{ child: ChildProcess; result: () => Promise<string> }> {
  const child = spawn(setprivArgs.length ? "setpriv" : PYTHON, setprivArgs.length ? [...setprivArgs, PYTHON, "-c", code] : ["-c", code], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  return new Promise((resolve) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("ready\n")) {
        resolve({
          child,
          result: () =>
            new Promise((done) => {
              child.on("close", () => done(out.slice(out.indexOf("ready\n") + 6)));
              child.stdin!.end();
            }),
        });
      }
    });
  });
}
