// `npx tsx bench/first-runs.ts [--runs N] [--rounds R] [tool...]` (default: eslint mocha
// pylint): a user's first runs of a tool, while warm learns it. Each tool
// with a fresh warm (its own daemon, started first by another command, as
// when a user has run anything through warm before; nothing learned), its first corpus
// command run N times, each warm run right after a direct run of the same
// command, so each ratio compares two runs under the same machine load.
// Twice: paced (200 ms pause before each run, never waiting for warm) and
// back to back (no pause: warm's learning in the background competes with
// the next runs). Goal (issue 11): each of the first 5 warm runs within 10%
// of direct. R rounds (default 3), each with a fresh warm: per run, the
// median ratio of the rounds. Writes its section of bench/results.md.
import { getPriority, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fixture, WarmEnv } from "../test/helpers/warm-env";
import { nodeTools } from "../test/corpus/node-tools";
import { pythonTools } from "../test/corpus/python-tools";
import { Corpus, differences } from "../test/corpus/runner";
import { describeMachine } from "./lib/machine";
import { writeSection } from "./lib/results-section";

const REPO = resolve(__dirname, "..");
const PAUSE_MS = 200;
const GOAL = 1.1;

interface Row {
  tool: string;
  command: string;
  /** "direct twice": the noise floor, each pair two direct runs (the second in the warm column). */
  pacing: "paced" | "back to back" | "direct twice";
  direct: number[];
  warm: number[];
  ways: string;
  differ: number;
}

async function measure(toolName: string, pacing: Row["pacing"], runs: number): Promise<Row> {
  const tool = [...nodeTools, ...pythonTools].find((t) => t.tool === toolName);
  if (!tool) throw new Error(`no corpus tool ${toolName}`);
  const c = tool.cases[0];
  const w = new WarmEnv();
  const corpus = new Corpus(w);
  delete corpus.env.WARM_DEBUG; // its trace writes cost time
  const row: Row = { tool: tool.tool, command: c.argv.join(" "), pacing, direct: [], warm: [], ways: "", differ: 0 };
  try {
    corpus.prepare(tool);
    w.run([fixture("not-warm.sh")], { env: corpus.env }); // starts the daemon
    // The tool's own first run (caches it writes in HOME, the page cache), untimed.
    corpus.run(tool, c, "direct");
    for (let i = 0; i < runs; i++) {
      if (pacing !== "back to back") await sleep(PAUSE_MS);
      const d = corpus.run(tool, c, "direct");
      if (pacing !== "back to back") await sleep(PAUSE_MS);
      const before = w.status();
      const g = corpus.run(tool, c, pacing === "direct twice" ? "direct" : "warm");
      const after = w.status();
      row.direct.push(d.ms);
      row.warm.push(g.ms);
      if (differences(g, d)) row.differ++;
      row.ways += (after?.runs ?? 0) > (before?.runs ?? 0) ? "w" : "d";
    }
  } finally {
    await w.stop();
  }
  return row;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--runs");
  const runs = at >= 0 ? Number(args.splice(at, 2)[1]) : 5;
  const rat = args.indexOf("--rounds");
  const rounds = rat >= 0 ? Number(args.splice(rat, 2)[1]) : 3;
  const tools = args.length > 0 ? args : ["eslint", "mocha", "pylint"];
  const machine = describeMachine("not used (timed by spawnSync)", REPO);
  const t0 = Date.now();
  const rows: Row[][] = [];
  for (const tool of tools) {
    for (const pacing of ["direct twice", "paced", "back to back"] as const) {
      const each: Row[] = [];
      for (let r = 0; r < rounds; r++) {
        const row = await measure(tool, pacing, runs);
        each.push(row);
        process.stderr.write(`${row.tool} ${pacing}: ${row.warm.map((ms, i) => `${(ms / row.direct[i]).toFixed(2)}`).join(" ")} (${row.ways})\n`);
      }
      rows.push(each);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  writeSection(join(REPO, "bench", "results.md"), "bench/first-runs.ts", render(rows, runs, rounds, machine, seconds));
  process.stderr.write(`wrote the first-runs section of bench/results.md (${seconds.toFixed(0)} s)\n`);
}

function render(rows: Row[][], runs: number, rounds: number, machine: ReturnType<typeof describeMachine>, seconds: number): string {
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  // Per run: the median of the rounds' warm/direct ratios, and their range.
  const perRun = (each: Row[]) => Array.from({ length: runs }, (_, i) => each.map((r) => r.warm[i] / r.direct[i]));
  const measured = rows.filter((each) => each[0].pacing !== "direct twice");
  const over = measured.flatMap((each) => perRun(each).filter((xs) => median(xs) > GOAL));
  const cell = (xs: number[]) => `${median(xs).toFixed(2)}${median(xs) > GOAL ? " **(over)**" : ""} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  return [
    "## First runs of a tool, while warm learns it",
    "",
    "`npx tsx bench/first-runs.ts` (corpus projects and env of `test/corpus/`; each round a fresh daemon with nothing learned).",
    `Machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memory}, Linux ${machine.kernel}, Node ${machine.node}; ${machine.warm}; ${machine.date}.`,
    `Load average before: ${machine.load}; after: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (the machine is shared: other work ran beside this). Run at nice ${getPriority()}${getPriority() < 0 ? " (the benchmark, its daemons and tools ahead of the other work, which ran at nice 0)" : ""}.`,
    "",
    `Method: per round, a daemon started by another command (\`warm test/fixtures/not-warm.sh\`, answered \`direct\`; not in the ratios), the tool's first corpus command run directly once untimed, then ${runs} pairs: a direct run, then a warm run (wall time seen by the parent).`,
    `Each cell: the median over ${rounds} rounds of that run's warm/direct ratio (its range in brackets). Paced: ${PAUSE_MS} ms pause before each run (warm is never waited for). Back to back: no pause, so warm's learning in the background competes with the runs.`,
    "`direct twice` is the noise floor: both runs of each pair direct (paced): the spread the machine's load alone gives one run against the next.",
    "`ways`: per round, each warm run warm (w) or run directly (d). `same`: every warm run had the direct run's stdout, stderr, status and files.",
    `Goal: each of the first ${runs} warm runs within 10% of direct (median ratio <= ${GOAL}): ${over.length === 0 ? "met" : `NOT MET for ${over.length} of ${measured.length * runs}`}. Took ${seconds.toFixed(0)} s.`,
    "",
    `| tool | command | pacing | same | ${Array.from({ length: runs }, (_, i) => `run ${i + 1}`).join(" | ")} | ways |`,
    `|---|---|---|---|${"---:|".repeat(runs)}---|`,
    ...rows.map((each) => {
      const r = each[0];
      const differ = each.reduce((n, x) => n + x.differ, 0);
      return `| ${r.tool} | \`${r.command}\` | ${r.pacing} | ${differ ? `**differs** (${differ})` : "yes"} | ${perRun(each).map(cell).join(" | ")} | ${each.map((x) => x.ways).join(" ")} |`;
    }),
  ].join("\n");
}

void main();
