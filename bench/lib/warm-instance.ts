// A private warm installation for one benchmark case: its own runtime,
// state and config dirs (so the user's daemon is never touched), status
// queries, the readiness wait, and a stop that checks every process of it
// is gone.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { nodeMode } from "./machine";

export interface PoolStatus {
  tool: string;
  key: string;
  ready: number;
  starting: number;
  hits: number;
  misses: number;
  broken: boolean;
  /** How the pool starts its processes and why ("fork: ..." or "spawn: ..."; Node pools). */
  mode?: string;
  pids: number[];
}

export interface WarmStatus {
  version: string;
  pid: number;
  uptimeSeconds: number;
  configError: string | null;
  running: number;
  runs: number;
  direct: number;
  handOffP50Ms: number;
  runP50Ms: number;
  pools: PoolStatus[];
}

/** What the daemon learned about one tool (its preload record in the state dir). */
export interface Learned {
  modules: number;
  esm: boolean;
  /** Modules kept out of the preload set, and why. */
  dropped: [string, string][];
  envNames: number;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command with captured stdio (never a terminal: pools are keyed by tty-ness). */
export function runCaptured(argv: string[], cwd: string, env: NodeJS.ProcessEnv, input?: Buffer): RunResult {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, input, stdio: [input ? "pipe" : "ignore", "pipe", "pipe"], encoding: "utf8", timeout: 300_000 }); // a 200-run loop on a loaded machine takes minutes
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms };
}

/** VmRSS of a process in KiB, or null if it is gone. */
/** Proportional set size (KiB): what a forked child adds, its shared pages divided among their sharers. */
export function pssKiB(pid: number): number | null {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return null;
  }
}

/** A live (not zombie) process with this command line still exists under this pid. */
export function alive(pid: number, cmd: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && cmdline(pid) === cmd;
  } catch {
    return false;
  }
}

function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export class WarmInstance {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly warm: string;
  /** Every pid of this instance seen so far, with its command line (to tell a reused pid apart). */
  private seen = new Map<number, string>();

  constructor(readonly repo: string, name: string) {
    this.warm = join(repo, "bin", "warm");
    this.root = mkdtempSync(join(tmpdir(), `warm-bench-${name}-`)); // mode 0700
    const runtime = join(this.root, "run");
    mkdirSync(runtime, { mode: 0o700 });
    mkdirSync(join(this.root, "state"), { mode: 0o700 });
    mkdirSync(join(this.root, "config"), { mode: 0o700 });
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("WARM_")) env[k] = v;
    env.WARM_NODE_MODE = nodeMode();
    env.XDG_RUNTIME_DIR = runtime;
    env.XDG_STATE_HOME = join(this.root, "state");
    env.XDG_CONFIG_HOME = join(this.root, "config");
    this.env = env;
  }

  run(argv: string[], input?: Buffer): RunResult {
    return runCaptured(argv, this.repo, this.env, input);
  }

  runWith(argv: string[], env: NodeJS.ProcessEnv): RunResult {
    return runCaptured(argv, this.repo, env);
  }

  /** Starts the daemon (a first run through the shim does) and waits until it answers. */
  async start(timeoutMs = 15_000): Promise<WarmStatus> {
    // A script the daemon answers `direct` (a native binary such as /bin/true never reaches it): it starts the daemon and no pool.
    const starter = join(this.repo, "test", "fixtures", "not-warm.sh");
    const first = this.run([this.warm, starter]);
    if (first.status !== 0) throw new Error(`bin/warm ${starter} failed: ${first.stderr}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status();
      if (s) return s;
      if (Date.now() > deadline) throw new Error(`the warm daemon in ${this.root} did not answer within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  status(): WarmStatus | null {
    const r = spawnSync(this.warm, ["status", "--json"], { cwd: this.repo, env: this.env, encoding: "utf8" });
    if (r.status !== 0) return null;
    const s = JSON.parse(r.stdout) as WarmStatus;
    this.remember(s.pid);
    for (const p of s.pools) for (const pid of p.pids) this.remember(pid);
    return s;
  }

  statusText(): string {
    const r = spawnSync(this.warm, ["status"], { cwd: this.repo, env: this.env, encoding: "utf8" });
    return (r.stdout + r.stderr).trimEnd();
  }

  /** Some pool has a ready process and none is starting one (an instance serves one tool, so any pool is that tool's). */
  static settledReady(s: WarmStatus | null): boolean {
    return !!s && s.pools.some((p) => p.ready >= 1) && s.pools.every((p) => p.starting === 0);
  }

  /** Polls (bounded) until `settledReady`. */
  async waitReady(timeoutMs = 20_000): Promise<WarmStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status();
      if (s && WarmInstance.settledReady(s)) return s;
      if (Date.now() > deadline) throw new Error(`no ready warm process within ${timeoutMs} ms; status:\n${this.statusText()}`);
      await sleep(10);
    }
  }

  /** Polls (bounded) until no pool is starting a process. */
  private async settle(timeoutMs = 20_000): Promise<WarmStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status();
      if (s && s.pools.every((p) => p.starting === 0)) return s;
      if (Date.now() > deadline) throw new Error(`warm processes still starting after ${timeoutMs} ms; status:\n${this.statusText()}`);
      await sleep(10);
    }
  }

  /**
   * Runs `argv` (the warm command) at least `minRuns` times so the daemon
   * learns the tool's modules, letting the pool settle after each run, until
   * a ready process is waiting. A run that teaches the daemon a new env
   * variable closes its pool, and the next run opens a new one: hence more
   * runs, up to `maxRuns`.
   */
  async learn(argv: string[], minRuns: number, maxRuns = minRuns + 5): Promise<RunResult[]> {
    const results: RunResult[] = [];
    for (let i = 0; i < maxRuns; i++) {
      const r = this.run(argv);
      if (r.status !== 0) throw new Error(`learning run ${i + 1} of ${argv.join(" ")} failed (status ${r.status}): ${r.stderr}`);
      results.push(r);
      const s = await this.settle();
      if (i + 1 >= minRuns && WarmInstance.settledReady(s)) return results;
    }
    throw new Error(`no ready warm process after ${maxRuns} learning runs; status:\n${this.statusText()}`);
  }

  private remember(pid: number): void {
    if (this.seen.has(pid)) return;
    const cmd = cmdline(pid);
    if (cmd) this.seen.set(pid, cmd);
  }

  /** Stops the daemon and returns the pids of this instance still alive after a bounded wait (empty: all gone). */
  async stop(timeoutMs = 5_000): Promise<{ pids: number[]; leftover: number[] }> {
    const s = this.status();
    if (s) for (const pid of childrenOf(s.pid)) this.remember(pid);
    const r = spawnSync(this.warm, ["stop"], { cwd: this.repo, env: this.env, encoding: "utf8" });
    if (r.status !== 0) process.stderr.write(`bin/warm stop: status ${r.status}: ${r.stderr}\n`);
    const pids = [...this.seen.keys()];
    const deadline = Date.now() + timeoutMs;
    let leftover = pids.filter((pid) => alive(pid, this.seen.get(pid)!));
    while (leftover.length > 0 && Date.now() < deadline) {
      await sleep(20);
      leftover = leftover.filter((pid) => alive(pid, this.seen.get(pid)!));
    }
    return { pids, leftover };
  }

  /** Removes the instance's temp dir. */
  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** The daemon's preload records (written at the latest when it stops). */
  learned(): Learned[] {
    const dir = join(this.root, "state", "warm", "preload");
    const out: Learned[] = [];
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      return out;
    }
    for (const f of files) {
      try {
        const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as { modules?: unknown[]; esm?: boolean; dropped?: Record<string, string>; envNames?: unknown[] };
        out.push({
          modules: Array.isArray(r.modules) ? r.modules.length : 0,
          esm: r.esm === true,
          dropped: Object.entries(r.dropped ?? {}),
          envNames: Array.isArray(r.envNames) ? r.envNames.length : 0,
        });
      } catch {
        // unreadable or mid-write: skip
      }
    }
    return out;
  }

  /** The daemon's log (for diagnosing a failure). */
  log(): string {
    try {
      return readFileSync(join(this.root, "state", "warm", "daemon.log"), "utf8");
    } catch {
      return "";
    }
  }
}
