// Runs hyperfine (no shell, -N) on a set of commands and reads its JSON
// export back: every run's wall time, from which the percentiles are
// computed here (hyperfine reports mean and median only).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Command {
  /** Short label for tables. */
  name: string;
  /** The command line exactly as hyperfine runs it (split into words, no shell). */
  command: string;
}

export interface Options {
  commands: Command[];
  runs: number;
  warmup: number;
  /** Run before every run (warmup runs included), untimed. */
  prepare?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Timing extends Command {
  /** Wall time of each timed run, in ms, in run order. */
  times: number[];
  n: number;
  p50: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
  /** Runs per second, from the mean: throughput when runs follow each other. */
  perSecond: number;
}

/** The q-quantile (0..1) with linear interpolation between closest ranks. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(command: Command, times: number[]): Timing {
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return {
    ...command,
    times,
    n: times.length,
    p50: quantile(times, 0.5),
    p90: quantile(times, 0.9),
    mean,
    min: Math.min(...times),
    max: Math.max(...times),
    perSecond: 1000 / mean,
  };
}

export function hyperfineVersion(): string | null {
  const r = spawnSync("hyperfine", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The argv of the hyperfine run (for the report's "exact commands"). */
export function hyperfineArgs(opts: Options, exportFile = "<tmp>.json"): string[] {
  const args = ["-N", "--style", "basic", "--warmup", String(opts.warmup), "--runs", String(opts.runs), "--export-json", exportFile];
  if (opts.prepare) args.push("--prepare", opts.prepare);
  for (const c of opts.commands) args.push("-n", c.name);
  for (const c of opts.commands) args.push(c.command);
  return args;
}

/** Shell-quotes one word for display. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function runHyperfine(opts: Options): Timing[] {
  const dir = mkdtempSync(join(tmpdir(), "warm-bench-hf-"));
  const exportFile = join(dir, "result.json");
  try {
    // hyperfine's progress goes to our stderr; its summary is in the JSON.
    const r = spawnSync("hyperfine", hyperfineArgs(opts, exportFile), {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", process.stderr, process.stderr],
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`hyperfine exited with status ${r.status} on: ${opts.commands.map((c) => c.command).join(" | ")}`);
    const json = JSON.parse(readFileSync(exportFile, "utf8")) as { results: { command: string; times: number[] }[] };
    if (json.results.length !== opts.commands.length) throw new Error(`hyperfine returned ${json.results.length} results for ${opts.commands.length} commands`);
    return opts.commands.map((c, i) => summarize(c, json.results[i].times.map((s) => s * 1000)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
