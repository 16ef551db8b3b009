// `npx tsx test/corpus/survey.ts [--all] [tool...]`: runs the corpus (or the
// named tools) as the tests do and prints the table the issue asks for, tool x
// command -> identical / runs directly (why) / differs, without asserting.
// `--json FILE` also writes every result.
import { writeFileSync } from "node:fs";
import { WarmEnv } from "../helpers/warm-env";
import { nodeTools } from "./node-tools";
import { pythonTools } from "./python-tools";
import { type CaseResult, Corpus } from "./runner";

export function verdict(r: CaseResult): string {
  if (r.diffs.length > 0) return `differs: ${r.diffs.join("; ")}`;
  if (r.unsettled) return `${verdict({ ...r, unsettled: false })}; a pool was still starting warm processes 20 s after a run`;
  if (r.warm === 0) return `runs directly (${r.why || "no reason given"})`;
  if (r.direct > 0) return `identical; runs ${r.ways} (w warm, d direct${r.why ? `: ${r.why}` : ""})`;
  return "identical";
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf("--json");
  const jsonFile = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
  // Pending commands (test/corpus/PENDING.md) run when their tool is named, or with --all.
  const all = args.includes("--all");
  const named = args.filter((a) => a !== "--all");
  const tools = [...nodeTools, ...pythonTools]
    .filter((t) => named.length === 0 || named.includes(t.tool))
    .map((t) => (all || named.length > 0 ? t : { ...t, cases: t.cases.filter((c) => !c.pending) }))
    .filter((t) => t.cases.length > 0);
  const w = new WarmEnv();
  const corpus = new Corpus(w);
  const results: CaseResult[] = [];
  const start = Date.now();
  process.on("SIGTERM", () => void w.stop().then(() => process.exit(143)));
  try {
    for (const tool of tools) {
      corpus.prepare(tool);
      const term = corpus.terminal(tool);
      try {
        for (const c of tool.cases) {
          const r = await corpus.check(tool, c, term);
          results.push(r);
          const p50 = [...r.warmMs].sort((a, b) => a - b)[Math.floor(r.warmMs.length / 2)];
          process.stdout.write(`| ${tool.tool} | ${c.name} | ${verdict(r)} | ${r.directMs.toFixed(0)} ms | ${p50.toFixed(0)} ms |\n`);
        }
      } finally {
        term.close();
      }
    }
  } finally {
    await w.stop();
  }
  process.stdout.write(`wall time: ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 2));
}

void main();
