// One benchmark case, end to end, in its own private warm instance:
// start the daemon, let it learn the tool, check that warm and direct runs
// print the same thing, time the "paced" and "back-to-back" modes with
// hyperfine, read memory and status, and stop everything.
import { join } from "node:path";
import { type Command, hyperfineArgs, runHyperfine, shellQuote, type Timing } from "./hyperfine";
import { makeFloorDir, stopFloor } from "./design-floor";
import { type TraceStep, traceRuns } from "./trace";
import { type Learned, pssKiB, rssKiB, type RunResult, WarmInstance, type WarmStatus } from "./warm-instance";

export interface BenchCommand extends Command {
  argv: string[];
}

export function cmd(name: string, argv: string[]): BenchCommand {
  return { name, argv, command: argv.map(shellQuote).join(" ") };
}

export interface RunPlan {
  runs: number;
  warmup: number;
}

export interface Memory {
  what: string;
  kib: number | null;
}

/** A daemon of another project that the case compares against, started and stopped around the timing. */
export interface Peer {
  start(): Promise<string[]>;
  memory(): Memory[];
  /** Stops it; returns a description of anything left running (empty: all gone). */
  stop(): Promise<string[]>;
}

export interface CaseSpec {
  id: string;
  title: string;
  /** What the case shows, for the report. */
  what: string;
  /** Every row measured in paced mode, in table order. */
  commands: BenchCommand[];
  direct: string;
  /** The row run through warm (none: the case has no warm pool). The case's private instance serves only this tool. */
  warm?: string;
  /** Rows that get their own ratio column. */
  peers?: string[];
  /** Rows also measured back-to-back. */
  backToBack: string[];
  paced?: RunPlan;
  b2b: RunPlan;
  learnRuns?: number;
  /** Pairs of rows whose stdout, stderr and status must be identical. */
  same: [string, string][];
  /** Every checked row's stdout must match this. */
  expectStdout?: RegExp;
  peer?: (inst: WarmInstance) => Peer;
  /** Commands run before timing, for the report (e.g. starting the peer). */
  setupNotes?: string[];
  /** Paced runs of the warm row with WARM_DEBUG=1, for the shim's step times. */
  traceRuns?: number;
  /** The row that runs the design floor's client (design-floor.ts): the case keeps a server waiting for it. */
  designFloor?: string;
}

export interface ModeResult {
  mode: "paced" | "back-to-back";
  hyperfine: string;
  plan: RunPlan;
  rows: Timing[];
  /** Warm pool counters over this hyperfine run (warmup runs included). */
  hits?: number;
  misses?: number;
  warmRuns?: number;
}

export interface CheckResult {
  what: string;
  ok: boolean;
  detail: string;
}

export interface CaseResult {
  spec: CaseSpec;
  modes: ModeResult[];
  checks: CheckResult[];
  memory: Memory[];
  learning: RunResult[];
  /** `warm status --json` right after the paced runs (daemon-side latencies). */
  pacedStatus: WarmStatus | null;
  trace: TraceStep[];
  learned: Learned[];
  statusText: string;
  peerNotes: string[];
  leftover: string[];
  seconds: number;
  /** Why the case stopped early, if it did (the report shows it; the other cases still run). */
  error: string | null;
}

function row(spec: CaseSpec, name: string): BenchCommand {
  const c = spec.commands.find((x) => x.name === name);
  if (!c) throw new Error(`case ${spec.id}: no command named ${name}`);
  return c;
}

/** Hits and misses summed over the instance's pools (all of them serve the case's one tool). */
function counters(inst: WarmInstance): { hits: number; misses: number } {
  const s = inst.status();
  let hits = 0;
  let misses = 0;
  for (const p of s?.pools ?? []) {
    hits += p.hits;
    misses += p.misses;
  }
  return { hits, misses };
}

function show(r: RunResult): string {
  const out = r.stdout.length > 120 ? `${r.stdout.slice(0, 120)}... (${r.stdout.length} bytes)` : r.stdout;
  return `status ${r.status}${r.signal ? ` signal ${r.signal}` : ""}, stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`;
}

async function check(spec: CaseSpec, inst: WarmInstance): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const runOf = async (name: string): Promise<RunResult> => {
    const r = inst.run(row(spec, name).argv);
    if (name === spec.warm) await inst.waitReady();
    return r;
  };
  for (const [a, b] of spec.same) {
    const ra = await runOf(a);
    const rb = await runOf(b);
    const ok = ra.status === rb.status && ra.signal === rb.signal && ra.stdout === rb.stdout && ra.stderr === rb.stderr;
    out.push({ what: `\`${a}\` and \`${b}\` print the same stdout/stderr and exit the same`, ok, detail: ok ? show(ra) : `${a}: ${show(ra)}; ${b}: ${show(rb)}` });
    if (spec.expectStdout) {
      for (const [name, r] of [[a, ra], [b, rb]] as const) {
        const good = r.status === 0 && spec.expectStdout.test(r.stdout);
        out.push({ what: `\`${name}\` stdout matches ${spec.expectStdout}`, ok: good, detail: show(r) });
      }
    }
  }
  return out;
}

function measure(spec: CaseSpec, inst: WarmInstance, mode: ModeResult["mode"], names: string[], plan: RunPlan): ModeResult {
  const commands = names.map((n) => row(spec, n));
  const prepare = mode === "paced" && spec.warm ? "node bench/lib/wait-ready.cjs" : undefined;
  const opts = { commands, runs: plan.runs, warmup: plan.warmup, prepare, cwd: inst.repo, env: inst.env };
  process.stderr.write(`\n== ${spec.id}: ${mode}\n`);
  const before = counters(inst);
  const rows = runHyperfine(opts);
  const after = counters(inst);
  const result: ModeResult = { mode, plan, rows, hyperfine: ["hyperfine", ...hyperfineArgs(opts)].map(shellQuote).join(" ") };
  if (spec.warm && names.includes(spec.warm)) {
    result.hits = after.hits - before.hits;
    result.misses = after.misses - before.misses;
    result.warmRuns = plan.runs + plan.warmup;
  }
  return result;
}

export async function runCase(spec: CaseSpec, repo: string): Promise<CaseResult> {
  const t0 = Date.now();
  process.stderr.write(`\n#### case ${spec.id}: ${spec.title}\n`);
  const inst = new WarmInstance(repo, spec.id);
  const peer = spec.peer?.(inst);
  const result: CaseResult = {
    spec,
    modes: [],
    checks: [],
    memory: [],
    learning: [],
    pacedStatus: null,
    trace: [],
    learned: [],
    statusText: "",
    peerNotes: [],
    leftover: [],
    seconds: 0,
    error: null,
  };
  let peerStarted = false;
  const floorDir = join(inst.root, "design-floor");
  try {
    if (spec.designFloor) {
      // Set before the first warm run: every run of the case sees the same environment.
      makeFloorDir(floorDir);
      inst.env.BENCH_FLOOR_DIR = floorDir;
    }
    await inst.start();
    if (spec.warm) {
      result.learning = await inst.learn(row(spec, spec.warm).argv, spec.learnRuns ?? 3);
    }
    if (peer) {
      peerStarted = true;
      result.peerNotes = await peer.start();
    }
    result.checks = await check(spec, inst);
    if (spec.paced) {
      if (spec.warm) await inst.waitReady();
      result.modes.push(measure(spec, inst, "paced", spec.commands.map((c) => c.name), spec.paced));
      if (spec.warm) {
        const st = await inst.waitReady();
        result.pacedStatus = st;
        const pool = st.pools.find((p) => p.ready >= 1)!;
        result.memory.push({ what: "warm daemon (VmRSS)", kib: rssKiB(st.pid) });
        if (pool.mode?.startsWith("fork") && pool.pids.length >= 2) {
          // Its template first, then the waiting children (see Pool.pids).
          result.memory.push({ what: `the template of pool "${pool.tool}" (VmRSS)`, kib: rssKiB(pool.pids[0]) });
          result.memory.push({ what: `one waiting child forked from it (Pss)`, kib: pssKiB(pool.pids[1]) });
        } else {
          result.memory.push({ what: `one ready warm process of pool "${pool.tool}" (VmRSS)`, kib: rssKiB(pool.pids[0]) });
        }
      }
      if (peer) result.memory.push(...peer.memory());
    }
    if (spec.warm && spec.traceRuns) result.trace = await traceRuns(inst, row(spec, spec.warm).argv, spec.traceRuns);
    if (spec.warm) await inst.waitReady();
    result.modes.push(measure(spec, inst, "back-to-back", spec.backToBack, spec.b2b));
    if (spec.warm) await inst.waitReady(); // let the pool settle before the status snapshot
    result.statusText = inst.statusText();
    if (result.memory.length === 0) result.memory.push({ what: "warm daemon (VmRSS)", kib: rssKiB(inst.status()?.pid ?? -1) });
  } catch (error) {
    result.error = (error as Error).message;
    const log = inst.log().trimEnd().split("\n").slice(-15).join("\n");
    if (log) result.error += `\n\nlast lines of the daemon log:\n${log}`;
    process.stderr.write(`case ${spec.id} failed: ${result.error}\n`);
  } finally {
    if (peer && peerStarted) result.leftover.push(...(await peer.stop()));
    const floorLeft = spec.designFloor ? await stopFloor(floorDir) : null;
    if (floorLeft !== null) result.leftover.push(`design-floor server pid ${floorLeft}`);
    const stopped = await inst.stop();
    result.learned = inst.learned();
    result.leftover.push(...stopped.leftover.map((pid) => `warm pid ${pid}`));
    if (stopped.leftover.length > 0) process.stderr.write(`warm processes left running in ${inst.root}: ${stopped.leftover.join(" ")}\n`);
    else inst.remove();
    result.seconds = (Date.now() - t0) / 1000;
  }
  return result;
}
