// The shim's own view of a warm run: with WARM_DEBUG=1 it stamps each step
// on stderr ("+0.147ms connected to ...", "+0.160ms sent run", "+1.3ms
// started: pid ...", "+4.1ms exit: code 0"), timed from its main(). Paced
// traced runs give the median time of each step, which splits a warm run
// into the shim's part, the hand-off round trip and the tool's run.
import { quantile } from "./hyperfine";
import type { WarmInstance } from "./warm-instance";

export interface TraceStep {
  step: string;
  /** Median time since the shim's main() started, in ms. */
  p50: number;
  n: number;
}

const STEPS: [string, RegExp][] = [
  ["connected to the daemon", /^connected\b/],
  ["run request sent", /^sent run\b/],
  ["`started` received (tool handed to a warm process)", /^started\b/],
  ["`exit` received (tool finished)", /^exit\b/],
];

export async function traceRuns(inst: WarmInstance, argv: string[], runs: number): Promise<TraceStep[]> {
  const samples = new Map<string, number[]>(STEPS.map(([name]) => [name, []]));
  const env = { ...inst.env, WARM_DEBUG: "1" };
  for (let i = 0; i < runs; i++) {
    await inst.waitReady();
    const r = inst.runWith(argv, env);
    for (const line of r.stderr.split("\n")) {
      const m = /^warm\[\d+\] \+([\d.]+)ms (.*)$/.exec(line);
      if (!m) continue;
      const hit = STEPS.find(([, re]) => re.test(m[2]));
      if (hit) samples.get(hit[0])!.push(Number(m[1]));
    }
  }
  return STEPS.map(([step]) => ({ step, p50: quantile(samples.get(step)!, 0.5), n: samples.get(step)!.length })).filter((s) => s.n > 0);
}
