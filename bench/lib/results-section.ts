// bench/results.md holds sections written by different scripts: bench/run.ts
// rewrites the file; bench/corpus.ts and bench/first-runs.ts each own the
// part between their markers. Each keeps the others' parts when it writes.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const MARKER = /<!-- (bench\/[\w.-]+): start -->[\s\S]*?<!-- \1: end -->/g;

const start = (script: string) => `<!-- ${script}: start -->`;
const end = (script: string) => `<!-- ${script}: end -->`;

function read(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}

/** Writes bench/run.ts's report, keeping the scripts' sections that were there. */
export function writeMain(file: string, md: string): void {
  const sections = read(file).match(MARKER) ?? [];
  writeFileSync(file, [md.trimEnd(), ...sections].join("\n\n") + "\n");
}

/** Replaces (or appends) the section of `script` (e.g. "bench/corpus.ts"), keeping the rest. */
export function writeSection(file: string, script: string, section: string): void {
  const text = read(file);
  const block = `${start(script)}\n${section.trim()}\n${end(script)}`;
  const a = text.indexOf(start(script));
  const b = text.indexOf(end(script));
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end(script).length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** Replaces (or appends) the corpus section, keeping the rest. */
export function writeCorpus(file: string, section: string): void {
  writeSection(file, "bench/corpus.ts", section);
}
