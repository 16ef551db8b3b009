// Draws bench/chart.svg from the numbers in bench/results.md: one bar group
// per case, p50 of direct, warm and the peer (chg, prettierd), paced and back
// to back, on a log scale. Reads whatever rows the report has, so it redraws
// after any bench run: `npx tsx bench/chart.ts` (bench/run.ts calls it too).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Kind = "direct" | "warm" | "peer";
type Mode = "paced" | "back-to-back";

interface Bar {
  kind: Kind;
  mode: Mode;
  label: string;
  ms: number;
}

interface Group {
  title: string;
  bars: Bar[];
}

/** What a row's command is: warm's shim, a peer daemon's client, or the tool run directly (null: a reference row such as /bin/true). */
function kindOf(command: string): { kind: Kind; label: string } | null {
  if (/\bbin\/warm\b/.test(command)) return { kind: "warm", label: "warm" };
  if (/\bchg\b/.test(command)) return { kind: "peer", label: "chg" };
  if (/\bprettierd\b/.test(command)) return { kind: "peer", label: "prettierd" };
  if (/^\/bin\/true$|floor-client/.test(command)) return null;
  return { kind: "direct", label: "direct" };
}

export function parseResults(md: string): Group[] {
  const groups: Group[] = [];
  let group: Group | null = null;
  let mode: Mode | null = null;
  for (const line of md.split("\n")) {
    const heading = /^## \d+\. (.*)$/.exec(line);
    if (heading) {
      group = { title: heading[1], bars: [] };
      groups.push(group);
      mode = null;
      continue;
    }
    if (/^## /.test(line)) group = null;
    const sub = /^### (paced|back-to-back)$/.exec(line);
    if (sub) mode = sub[1] as Mode;
    const row = /^\| `(.*)` \| \*\*([\d.]+)\*\* \|/.exec(line);
    if (row && group && mode) {
      const kind = kindOf(row[1]);
      if (kind) group.bars.push({ ...kind, mode, ms: Number(row[2]) });
    }
  }
  // A case with nothing to compare (the spawn floor) has no group.
  return groups.filter((g) => g.bars.some((b) => b.kind === "warm") && g.bars.some((b) => b.kind === "direct"));
}

const COLOURS: Record<Kind, string> = { direct: "#8c8c8c", warm: "#e8590c", peer: "#1c7ed6" };
const ORDER: Kind[] = ["direct", "warm", "peer"];

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export function renderChart(groups: Group[]): string {
  const width = 760;
  const left = 200; // labels
  const right = 70; // value text
  const bar = 13;
  const gap = 3;
  const groupGap = 18;
  const top = 56;
  const bars = groups.flatMap((g) => g.bars);
  const min = Math.min(1, ...bars.map((b) => b.ms));
  const max = Math.max(10, ...bars.map((b) => b.ms));
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const plot = width - left - right;
  const x = (ms: number) => left + ((Math.log10(ms) - lo) / (hi - lo)) * plot;
  const out: string[] = [];
  let y = top;
  for (const g of groups) {
    out.push(`<text x="8" y="${y + 11}" font-weight="bold">${escape(g.title)}</text>`);
    y += 18;
    for (const mode of ["paced", "back-to-back"] as Mode[]) {
      const rows = g.bars.filter((b) => b.mode === mode).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
      for (const b of rows) {
        const w = Math.max(1, x(b.ms) - left);
        const fill = COLOURS[b.kind];
        const pattern = mode === "back-to-back" ? ` fill-opacity="0.55" stroke="${fill}"` : "";
        out.push(`<text x="${left - 6}" y="${y + bar - 3}" text-anchor="end">${escape(`${b.label}, ${mode}`)}</text>`);
        out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${fill}"${pattern}/>`);
        out.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + bar - 3}">${fmt(b.ms)} ms</text>`);
        y += bar + gap;
      }
    }
    y += groupGap;
  }
  const axis: string[] = [];
  for (let p = lo; p <= hi; p++) {
    const ms = 10 ** p;
    const at = x(ms).toFixed(1);
    axis.push(`<line x1="${at}" y1="${top - 6}" x2="${at}" y2="${y - groupGap}" stroke="#ddd"/>`);
    axis.push(`<text x="${at}" y="${top - 10}" text-anchor="middle">${ms >= 1 ? ms.toFixed(0) : ms} ms</text>`);
  }
  const legend = ORDER.map((k, i) => `<rect x="${left + i * 110}" y="8" width="12" height="12" fill="${COLOURS[k]}"/><text x="${left + i * 110 + 16}" y="18">${k === "peer" ? "peer (chg, prettierd)" : k}</text>`).join("");
  const height = y - groupGap + 12;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="18" font-weight="bold">p50 wall time, log scale</text>`,
    `<text x="8" y="32" fill="#555">solid: paced, light: back to back</text>`,
    legend,
    ...axis,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

/** Reads bench/results.md and writes bench/chart.svg next to it. */
export function writeChart(benchDir: string): void {
  const groups = parseResults(readFileSync(join(benchDir, "results.md"), "utf8"));
  writeFileSync(join(benchDir, "chart.svg"), renderChart(groups));
}

if (require.main === module) {
  writeChart(__dirname);
  process.stderr.write("wrote bench/chart.svg\n");
}
