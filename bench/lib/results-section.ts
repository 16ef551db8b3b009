// bench/results.md holds sections written by different scripts: bench/run.ts
// rewrites the file, bench/corpus.ts owns the part between its markers.
// Each keeps the other's part when it writes.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const START = "<!-- bench/corpus.ts: start -->";
const END = "<!-- bench/corpus.ts: end -->";

function split(text: string): { rest: string; corpus: string } {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return { rest: text, corpus: "" };
  return { rest: text.slice(0, a).trimEnd() + "\n" + text.slice(b + END.length).replace(/^\n+/, "\n"), corpus: text.slice(a, b + END.length) };
}

function read(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

/** Writes bench/run.ts's report, keeping the corpus section that was there. */
export function writeMain(file: string, md: string): void {
  const { corpus } = split(read(file));
  writeFileSync(file, corpus ? `${md.trimEnd()}\n\n${corpus}\n` : md);
}

/** Replaces (or appends) the corpus section, keeping the rest. */
export function writeCorpus(file: string, section: string): void {
  const { rest } = split(read(file));
  writeFileSync(file, `${rest.trimEnd()}\n\n${START}\n${section.trim()}\n${END}\n`);
}
