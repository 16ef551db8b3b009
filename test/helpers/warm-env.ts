// A private warm installation for one test file: its own runtime, state
// and config dirs, a way to run the real shim and the direct command side
// by side, and a teardown that leaves no daemon or warm process behind.
// Test files may run side by side (node --test --test-concurrency=N): what
// a file makes (dirs, daemons, uids it runs as, files it builds) must be its
// own, or built under a lock (helpers/coprocess.ts), and no wait may assume
// an idle machine.
import { type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..");
export const WARM = join(ROOT, "bin", "warm");
export const FIXTURES = join(ROOT, "test", "fixtures");

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export class WarmEnv {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runtimeDir: string;
  readonly stateDir: string;
  readonly configFile: string;

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "warm-test-"));
    for (const d of ["run", "state", "config/warm", "work"]) mkdirSync(join(this.dir, d), { recursive: true });
    chmodSync(join(this.dir, "run"), 0o700);
    this.runtimeDir = join(this.dir, "run", "warm");
    this.stateDir = join(this.dir, "state", "warm");
    this.configFile = join(this.dir, "config", "warm", "config.json");
    const env: NodeJS.ProcessEnv = { ...process.env };
    // The same environment on every machine: CI=true (as CI sets it) and
    // colour variables change what tools, node included, decide.
    const drop = new Set(["NODE_OPTIONS", "CI", "FORCE_COLOR", "NO_COLOR"]);
    // PYTHON* too: Python tests set what they test.
    for (const k of Object.keys(env)) if (k.startsWith("WARM_") || k.startsWith("NODE_TEST") || k.startsWith("PYTHON") || drop.has(k)) delete env[k];
    this.env = {
      ...env,
      XDG_RUNTIME_DIR: join(this.dir, "run"),
      XDG_STATE_HOME: join(this.dir, "state"),
      XDG_CONFIG_HOME: join(this.dir, "config"),
      // Tests assert what warm does once a run is handed over; on a loaded
      // machine a cold start can take longer than the shim's default limit
      // (1500 ms), after which it would (rightly) run directly. The limit
      // itself is tested with its default in trust-*.test.ts.
      WARM_TIMEOUT_MS: "10000",
      // How the daemon serves Node tools, for running the suite in each mode (fork, spawn, auto; unset: the default, auto).
      ...(process.env.WARM_TEST_NODE_MODE ? { WARM_NODE_MODE: process.env.WARM_TEST_NODE_MODE } : {}),
      ...extraEnv,
    };
  }

  get work(): string {
    return join(this.dir, "work");
  }

  writeConfig(config: object): void {
    writeFileSync(this.configFile, JSON.stringify(config));
  }

  /** Runs `warm args...` (or the command directly with direct: true) to completion. */
  run(args: string[], opts: { direct?: boolean; input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): Result {
    const [cmd, ...rest] = opts.direct ? args : [WARM, ...args];
    const r = spawnSync(cmd, rest, {
      cwd: opts.cwd ?? this.work,
      env: opts.env ?? this.env,
      input: opts.input ?? "",
      timeout: opts.timeout ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  /** Same, asynchronous (for concurrency and fault tests). */
  start(args: string[], opts: SpawnOptions & { direct?: boolean } = {}) {
    const [cmd, ...rest] = opts.direct ? args : [WARM, ...args];
    return spawn(cmd, rest, { cwd: this.work, env: this.env, ...opts });
  }

  /** Runs `warm args...` (or directly) without waiting; resolves with its status and output when it closes. */
  runAsync(args: string[], opts: SpawnOptions & { direct?: boolean } = {}): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = this.start(args, opts);
      let out = "";
      let err = "";
      child.stdout?.on("data", (d) => (out += d));
      child.stderr?.on("data", (d) => (err += d));
      child.on("close", (code) => resolve({ code, out, err }));
    });
  }

  status(): { pid: number; pools: { tool: string; script: string; key: string; ready: number; starting: number; limited: boolean; broken: boolean; hits: number; misses: number; pids: number[] }[]; runs: number; direct: number; configError: string | null; unsavedLearning: number } | null {
    const r = spawnSync(WARM, ["status", "--json"], { env: this.env, encoding: "utf8" });
    if (r.status !== 0) return null;
    return JSON.parse(r.stdout);
  }

  /** Waits (polling, bounded) until cond() holds; throws with `what` otherwise. */
  until(what: string | (() => string), cond: () => boolean, ms = 15_000): Promise<void> {
    return until(what, cond, ms);
  }

  /** Waits until the pool labelled `tool` (every pool, if none is named) has `count` ready warm processes. */
  async ready(tool?: string, count = 1): Promise<void> {
    await this.until(() => `a ready warm process for ${tool ?? "every pool"}; status: ${JSON.stringify(this.status())}`, () => {
      const s = this.status();
      const pools = s?.pools.filter((p) => tool === undefined || p.tool.startsWith(tool)) ?? [];
      // A pool that gave way to others under the limits refills at its next caller.
      return !!s && (tool === undefined || pools.length > 0) && pools.every((p) => (p.ready >= count || p.limited) && p.starting === 0);
    });
  }

  /** Whether this env's daemon forks cheap Node tools (WARM_NODE_MODE fork or auto, the default). */
  get forksNode(): boolean {
    return (this.env.WARM_NODE_MODE ?? "auto") !== "spawn";
  }

  /**
   * Runs `once` until the pool labelled `tool` has a ready warm process of the
   * kind its later runs meet in this env's mode: a child forked from a
   * template when Node tools fork here (only cheap tools ever do), else a
   * spawned process. Fault tests use it so that they hit what they test.
   */
  async warmed(tool: string, once: () => void, ms = 60_000): Promise<void> {
    type Pool = { tool: string; ready: number; starting: number; mode?: string };
    const pool = () => ((this.status()?.pools ?? []) as Pool[]).find((x) => x.tool.startsWith(tool));
    const end = Date.now() + ms;
    for (;;) {
      once();
      // Settled: its next process ready (each run takes one, and a spawned one's replacement takes a while).
      await this.until(() => `${tool}'s pool to have a ready process; status: ${JSON.stringify(this.status())}`, () => {
        // No daemon: on a loaded machine the one the run started was not ready in time (the shim ran the command
        // directly, and its watchdog ends a daemon that never gets ready); the next run starts one, as a user's would.
        if (!this.status()) {
          once();
          return false;
        }
        const p = pool();
        return !!p && p.ready >= 1 && p.starting === 0;
      }, Math.max(0, end - Date.now()));
      if (!this.forksNode || pool()?.mode?.startsWith("fork")) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${tool}'s pool to fork; status: ${JSON.stringify(this.status())}`);
    }
  }

  /** Every pid of ours: the daemon and all warm processes. */
  pids(): number[] {
    const s = this.status();
    if (!s) return [];
    return [s.pid, ...s.pools.flatMap((p) => p.pids)];
  }

  /** Stops the daemon and makes sure nothing of ours is left running. */
  async stop(): Promise<void> {
    const pids = this.pids();
    spawnSync(WARM, ["stop"], { env: this.env });
    try {
      await this.until("the daemon and its warm processes to exit", () => pids.every((pid) => !alive(pid)), 10_000);
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
      // WARM_TEST_KEEP=1 keeps the dirs (logs, learned state) for a post-mortem.
      if (process.env.WARM_TEST_KEEP !== "1") rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Waits until cond() holds, checking every 25 ms, for at most `ms`; throws
 * with `what` otherwise. For a state that announces itself by no event this
 * process can wait on (another process's state in /proc, the daemon's status).
 */
export async function until(what: string | (() => string), cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
}

export function alive(pid: number): boolean {
  // A zombie is not alive for our purposes. Read from /proc, not by running
  // ps: waits poll this every 25 ms, for dozens of pids at a time.
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return false;
  }
  // The state follows the command name, which is in parentheses and may hold any byte.
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Whether this is a *-spawn copy of a test file (helpers/spawn-mode.ts): it tests what Node's mode changes; the original tests the rest. */
export function spawnModeCopy(): boolean {
  return process.env.WARM_TEST_SPAWN_COPY === "1";
}

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

export const NODE = process.execPath;

/** A real CPython binary (Debian's, which Mercurial uses too); a PATH wrapper such as pyenv's shim would run directly. */
export const PYTHON = "/usr/bin/python3";
