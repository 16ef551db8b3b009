// `npx tsx bench/corpus.ts [--runs N] [--all-commands] [tool...]`: the
// real-tool corpus (test/corpus/), each tool's first command (or all of
// them) timed paced, direct against warm, p50 per command, in one
// private daemon; writes its section of bench/results.md. Paced: before a
// warm run the tool's warm process is ready (no pool starting one) and
// every run, direct or warm, follows a 200 ms pause, as when a person or an
// editor runs a command now and then. Each command's project is put back
// to its first state before every run, as in the test.
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { WarmEnv } from "../test/helpers/warm-env";
import { nodeTools } from "../test/corpus/node-tools";
import { pythonTools } from "../test/corpus/python-tools";
import { Corpus, differences } from "../test/corpus/runner";
import { quantile } from "./lib/hyperfine";
import { describeMachine } from "./lib/machine";
import { writeCorpus } from "./lib/results-section";

const REPO = resolve(__dirname, "..");
const PAUSE_MS = 200;
/** Untimed warm runs first: a user's first runs of a tool are when warm learns it. */
const LEARN = 2;

interface Row {
  tool: string;
  command: string;
  direct: number;
  warm: number;
  ways: string;
  /** Timed warm runs whose output, status or files differed from the direct run before them. */
  differ: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--runs");
  const runs = at >= 0 ? Number(args.splice(at, 2)[1]) : 5;
  // One command per tool (its first) unless --all-commands.
  const every = args.includes("--all-commands");
  if (every) args.splice(args.indexOf("--all-commands"), 1);
  // Pending commands (test/corpus/PENDING.md) last: a pool that never stops starting processes would load the machine under the others.
  const all = [...nodeTools, ...pythonTools].filter((t) => args.length === 0 || args.includes(t.tool));
  const tools = [...all.filter((t) => !t.cases.some((c) => c.pending)), ...all.filter((t) => t.cases.some((c) => c.pending))];
  const hyperfineless = "not used (timed by spawnSync, see the method)";
  const machine = describeMachine(hyperfineless, REPO);
  const t0 = Date.now();
  const w = new WarmEnv();
  const corpus = new Corpus(w);
  // No WARM_DEBUG here: its trace writes cost time.
  delete corpus.env.WARM_DEBUG;
  const rows: Row[] = [];
  try {
    for (const tool of tools) {
      corpus.prepare(tool);
      for (const c of every ? tool.cases : tool.cases.slice(0, 1)) {
        for (let i = 0; i < LEARN; i++) {
          corpus.run(tool, c, "warm");
          await corpus.settle();
        }
        const direct: number[] = [];
        const warm: number[] = [];
        let ways = "";
        let differ = 0;
        for (let i = 0; i < runs; i++) {
          await sleep(PAUSE_MS);
          const d = corpus.run(tool, c, "direct");
          direct.push(d.ms);
          corpus.reset(tool); // untimed: the state the warm run starts from, before the pool's check
          await corpus.settle();
          await sleep(PAUSE_MS);
          const before = w.status();
          const g = corpus.run(tool, c, "warm");
          warm.push(g.ms);
          if (differences(g, d)) differ++;
          ways += (w.status()?.runs ?? 0) > (before?.runs ?? 0) ? "w" : "d";
        }
        const row = { tool: tool.tool, command: c.argv.join(" "), direct: quantile(direct, 0.5), warm: quantile(warm, 0.5), ways, differ };
        rows.push(row);
        process.stderr.write(`${row.tool}: ${row.command}: direct ${row.direct.toFixed(1)} ms, warm ${row.warm.toFixed(1)} ms (${ways}${differ ? `, ${differ} differed` : ""})\n`);
      }
    }
  } finally {
    await w.stop();
  }
  const seconds = (Date.now() - t0) / 1000;
  writeCorpus(join(REPO, "bench", "results.md"), render(rows, runs, machine, seconds));
  process.stderr.write(`wrote the corpus section of bench/results.md (${seconds.toFixed(0)} s)\n`);
}

function render(rows: Row[], runs: number, machine: ReturnType<typeof describeMachine>, seconds: number): string {
  const ratio = (r: Row) => r.warm / r.direct;
  const slower = rows.filter((r) => ratio(r) > 1.05);
  const lines = [
    "## The real-tool corpus, paced",
    "",
    "`npx tsx bench/corpus.ts` (the first command of each tool of `test/corpus/`, the same projects and env as the test, one private daemon).",
    `Machine: ${machine.cpu}, ${machine.nproc} CPUs, ${machine.memory}, Linux ${machine.kernel}, Node ${machine.node}, ${python()}; ${machine.warm}; ${machine.date}.`,
    `Load average before: ${machine.load}; after: ${loadavg().map((x) => x.toFixed(2)).join(" ")} (the machine is shared: other work ran beside this).`,
    "",
    `Method: per command, ${LEARN} untimed warm runs (learning), then ${runs} pairs of runs, each after a ${PAUSE_MS} ms pause, a direct run then a warm run with its warm process ready;`,
    "wall time of each run as seen by the parent (spawnSync, pipes for stdout and stderr), p50 per command. `ways`: each timed warm run warm (w) or run directly (d: sent back by the daemon, or never sent: a native binary).",
    "`same`: whether every timed warm run had the direct run's stdout, stderr, status and files (normalised as the test does).",
    `Goal: no command slower through warm than directly by more than 5%: ${slower.length === 0 ? "met" : `NOT MET for ${slower.length} of ${rows.length}`}. Took ${seconds.toFixed(0)} s.`,
    "",
    "| tool | command | same | direct p50 | warm p50 | warm/direct | ways |",
    "|---|---|---|---:|---:|---:|---|",
    ...rows.map((r) => `| ${r.tool} | \`${r.command}\` | ${r.differ ? `**differs** (${r.differ} of ${r.ways.length})` : "yes"} | ${r.direct.toFixed(1)} ms | ${r.warm.toFixed(1)} ms | ${ratio(r).toFixed(2)}${ratio(r) > 1.05 ? " (slower)" : ""} | ${r.ways} |`),
  ];
  return lines.join("\n");
}

function python(): string {
  try {
    return execFileSync("/usr/bin/python3", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "no /usr/bin/python3";
  }
}

void main();
