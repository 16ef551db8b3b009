// Comparing a run through warm with a direct run of the same command: same
// stdout and stderr bytes, same status or signal. When the first line is a
// probe's JSON report, a failure names the keys that differ.
import assert from "node:assert/strict";
import type { Result, WarmEnv } from "./warm-env";

/** The keys of two JSON report lines that differ, one per line ("" if none, or not JSON). */
export function reportDiff(warm: string, direct: string, ignore: string[] = []): string {
  try {
    const [x, y] = [JSON.parse(warm.split("\n")[0]), JSON.parse(direct.split("\n")[0])];
    return Object.keys(y)
      .filter((k) => !ignore.includes(k) && JSON.stringify(x[k]) !== JSON.stringify(y[k]))
      .map((k) => `${k}: warm ${JSON.stringify(x[k])} direct ${JSON.stringify(y[k])}`)
      .join("\n");
  } catch {
    return "";
  }
}

export function same(warm: Result, direct: Result, what: string): void {
  const diff = reportDiff(warm.stdout.toString(), direct.stdout.toString());
  if (diff) assert.fail(`${what}: the report differs\n${diff}`);
  assert.equal(warm.stderr.toString("latin1"), direct.stderr.toString("latin1"), `${what}: stderr`);
  assert.equal(warm.stdout.toString("latin1"), direct.stdout.toString("latin1"), `${what}: stdout`);
  assert.equal(warm.status, direct.status, `${what}: status`);
  assert.equal(warm.signal, direct.signal, `${what}: signal`);
}

/**
 * Runs a command directly, then through warm twice (a miss, then a ready
 * warm process), comparing each with the direct run; `warm: false` for
 * commands warm must hand back to run directly. Checks which way they went.
 */
export async function compare(w: WarmEnv, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; warm?: boolean } = {}): Promise<Result> {
  const direct = w.run(args, { ...opts, direct: true });
  const before = w.status();
  const first = w.run(args, opts);
  same(first, direct, `first warm run of ${args.join(" ")}`);
  await w.ready();
  const second = w.run(args, opts);
  same(second, direct, `warm run of ${args.join(" ")}`);
  const runs = w.status()!.runs - (before?.runs ?? 0);
  assert.equal(runs, opts.warm === false ? 0 : 2, `runs of ${args.join(" ")} that were warm`);
  return direct;
}
