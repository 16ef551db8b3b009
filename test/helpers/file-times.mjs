// A node:test reporter (npm test adds it beside TAP, on stderr): each test
// file's wall time (the runner's own measure: its process, start to end),
// when it started, and whether it passed; then the whole run's. Where a
// suite's time goes, without running each file alone. Plain JavaScript:
// node loads reporters before --import tsx applies.

/** @param {AsyncIterable<{ type: string, data?: { file?: string, name?: string, details?: { duration_ms?: number, passed?: boolean } } }>} source */
export default async function* fileTimes(source) {
  const start = Date.now();
  /** @type {Map<string, number>} */
  const started = new Map();
  /** @type {{ file: string, ms: number, at: number, passed: boolean }[]} */
  const files = [];
  for await (const { type, data } of source) {
    // A test file is itself a test, named by its path, run in its own process.
    if (!data?.file || data.name !== data.file) continue;
    if (type === "test:dequeue") started.set(data.file, Date.now() - start);
    else if (type === "test:complete") files.push({ file: data.file, ms: data.details?.duration_ms ?? 0, at: started.get(data.file) ?? 0, passed: data.details?.passed === true });
  }
  const s = (/** @type {number} */ ms) => (ms / 1000).toFixed(1).padStart(6);
  yield "# file times (s): wall, started at, file\n";
  for (const f of files.sort((a, b) => b.ms - a.ms)) yield `# ${s(f.ms)} ${s(f.at)}  ${f.file.replace(/.*\/test\//, "test/")}${f.passed ? "" : " (failed)"}\n`;
  yield `# whole run: ${s(Date.now() - start)}\n`;
}
