// Renders bench/results.md from the measured cases.
import type { CaseResult, ModeResult } from "./bench-case";
import type { Timing } from "./hyperfine";
import type { Machine } from "./machine";

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean | null; // null: could not be measured
  how: string;
}

export interface Report {
  machine: Machine;
  loadAfter: string;
  seconds: number;
  goals: Goal[];
  overheadNotes: string[];
  cases: CaseResult[];
  leftover: string[];
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(3));
const ratio = (ref: number, x: number): string => `${(ref / x).toFixed(ref / x >= 10 ? 1 : 2)}×`;

function table(c: CaseResult, m: ModeResult): string[] {
  const refs = [c.spec.direct, ...(c.spec.peers ?? [])].filter((n) => m.rows.some((r) => r.name === n));
  const byName = new Map<string, Timing>(m.rows.map((r) => [r.name, r]));
  const b2b = m.mode === "back-to-back";
  const head = ["command", "p50 ms", "p90 ms", "mean ms", "min ms", "runs", ...(b2b ? ["runs/s"] : []), ...refs.map((r) => `speed-up vs ${r}`)];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const r of m.rows) {
    const cells = [
      `\`${r.command}\``,
      `**${ms(r.p50)}**`,
      ms(r.p90),
      ms(r.mean),
      ms(r.min),
      String(r.n),
      ...(b2b ? [r.perSecond.toFixed(1)] : []),
      ...refs.map((n) => ratio(byName.get(n)!.p50, r.p50)),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines;
}

function pool(m: ModeResult): string | null {
  if (m.hits === undefined || m.misses === undefined) return null;
  const all = m.warmRuns ?? 0;
  if (m.mode === "paced") {
    const ok = m.hits === all && m.misses === 0;
    return `Pool counters over these ${all} warm runs (${m.plan.warmup} warmup + ${m.plan.runs} timed): ${m.hits} hits, ${m.misses} misses — ${ok ? "every run found a ready warm process" : "**NOT every run was a hit: the paced numbers are not what they claim**"}.`;
  }
  return `Pool counters over these ${all} warm runs (${m.plan.warmup} warmup + ${m.plan.runs} timed): ${m.hits} hits, ${m.misses} misses (a miss waits for a warm process started for it).`;
}

export function caseSection(c: CaseResult, n: number): string[] {
  const s = c.spec;
  const out = [`## ${n}. ${s.title}`, "", s.what, ""];
  if (c.error) out.push("**This case failed:**", "", "```", c.error, "```", "");
  if (s.setupNotes?.length) out.push(...s.setupNotes.map((x) => `- ${x}`), "");
  if (c.learning.length > 0) {
    out.push(`Learning runs before timing (\`${s.commands.find((x) => x.name === s.warm)?.command}\`, each followed by a wait for a ready process): ${c.learning.map((r) => `${r.ms.toFixed(1)} ms`).join(", ")}.`, "");
  }
  if (c.peerNotes.length) out.push(...c.peerNotes.map((x) => `- ${x}`), "");
  if (c.checks.length > 0) {
    out.push("Output checks (one captured run of each, after learning):", "");
    for (const ch of c.checks) out.push(`- ${ch.ok ? "ok" : "**FAILED**"}: ${ch.what}${ch.ok ? "" : ` — ${ch.detail}`}`);
    out.push("");
  }
  for (const m of c.modes) {
    out.push(`### ${m.mode}`, "", "```", m.hyperfine, "```", "", ...table(c, m), "");
    const p = pool(m);
    if (p) out.push(p, "");
  }
  const st = c.pacedStatus;
  if (st) {
    out.push(`Daemon-side latencies after the paced runs (\`warm status --json\`, over the daemon's whole window, learning runs included): hand-off p50 ${(st.handOffP50Ms * 1000).toFixed(0)} µs (request received → caller's fds sent to the warm process), run p50 ${st.runP50Ms.toFixed(2)} ms (request received → tool finished).`, "");
  }
  if (c.trace.length > 0) {
    const n = Math.max(...c.trace.map((t) => t.n));
    out.push(`Shim-side step times (\`WARM_DEBUG=1\` trace of ${n} more paced warm runs; medians, ms since the shim's main() started, so the shim's exec is not included): ${c.trace.map((t) => `${t.step} ${t.p50.toFixed(3)}`).join("; ")}.`, "");
  }
  for (const l of c.learned) {
    out.push(
      `What the daemon learned about the tool (its preload record, read after the stop): ${l.modules} modules${l.esm ? " (some ESM)" : ""}, ${l.envNames} environment variable names that join the pool key, ${l.dropped.length} module(s) kept out of the preload set${l.dropped.length ? ":" : "."}`,
      ...l.dropped.map(([id, why]) => `- \`${id}\`: ${why}`),
      "",
    );
  }
  if (c.memory.length > 0) {
    out.push("Memory:", "");
    for (const mem of c.memory) out.push(`- ${mem.what}: ${mem.kib === null ? "n/a" : `${(mem.kib / 1024).toFixed(1)} MiB`}`);
    out.push("");
  }
  if (c.statusText) out.push("`bin/warm status` after the runs:", "", "```", c.statusText, "```", "");
  out.push(`Case time: ${c.seconds.toFixed(0)} s. Left running after stop: ${c.leftover.length === 0 ? "nothing" : `**${c.leftover.join(", ")}**`}.`, "");
  return out;
}

export function renderReport(r: Report): string {
  const m = r.machine;
  const out = [
    "# warm benchmark results",
    "",
    `Produced by \`npx tsx bench/run.ts\` (see bench/README.md), ${m.date}; the whole run took ${r.seconds.toFixed(0)} s. Every number below comes from this one run; rerun to refresh.`,
    "",
    "![p50 wall time: direct, warm and the peers, paced and back to back, one group per case](chart.svg) (drawn from the tables below by `bench/chart.ts`)",
    "",
    "## Machine",
    "",
    "| | |",
    "|---|---|",
    `| CPU | ${m.cpu} |`,
    `| nproc | ${m.nproc} |`,
    `| memory | ${m.memory} |`,
    `| kernel | ${m.kernel} |`,
    `| node | ${m.node} |`,
    `| hyperfine | ${m.hyperfine} |`,
    `| warm | ${m.warm} |`,
    `| load average (1/5/15 min) | ${m.load} at start, ${r.loadAfter} at end |`,
    "",
    "## Goals",
    "",
    "| goal | target | measured | met? |",
    "|---|---|---|---|",
    ...r.goals.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met === null ? "not measured" : g.met ? "met" : "**not met**"} |`),
    "",
    ...r.goals.map((g) => `- *${g.goal}*: ${g.how}`),
    "",
    ...(r.overheadNotes.length ? ["Where the warm no-op time goes:", "", ...r.overheadNotes.map((x) => `- ${x}`), ""] : []),
    "## Method",
    "",
    "- Every timing is hyperfine's wall time of one run, with `-N` (no shell in between), its default `--output null` (the tool's stdout and stderr go to /dev/null; stdin is /dev/null unless the command redirects it). p50 and p90 are computed here from hyperfine's JSON `times` (linear interpolation between closest ranks); mean and min are shown for context. Speed-up = the reference's p50 / the row's p50.",
    "- Each case runs against its own private warm instance (fresh `XDG_RUNTIME_DIR` (0700), `XDG_STATE_HOME`, `XDG_CONFIG_HOME` in a temp dir; `WARM_*` variables removed), so nothing is shared with the user's daemon or between cases. Before timing, the warm command is run at least 3 times (learning runs) so the daemon learns the tool's modules, each followed by a wait until `warm status --json` shows no pool starting a process; learning stops once a pool has `ready >= 1` (up to 5 more runs: a run that teaches the daemon a new environment variable closes its pool, and the next run opens a new one). Timing starts only when a pool has `ready >= 1` and none has `starting > 0`. At the end the instance is stopped with `bin/warm stop` and every pid seen (daemon, warm processes) is checked to be gone.",
    "- **paced**: hyperfine runs `--prepare 'node bench/lib/wait-ready.cjs'` (polls `bin/warm status --json` until a pool has `ready >= 1` and no pool has `starting > 0`; each case's instance serves only that case's tool) before every run (warmup included) of every row of the case, so each warm run starts with a ready warm process; the direct rows get the same prepare, so every row is timed right after the same untimed node process. The pool's hits/misses counters are read before and after: every warm run must be a hit. This is the latency a user sees when runs are spaced out (prompts, editors, a human at a shell).",
    "- **back-to-back**: no prepare; runs follow each other as fast as hyperfine starts them. Each warm process serves one run, and a replacement costs a node start-up (plus preloading), so when runs come faster than the pool refills, warm runs wait for a process started for them (misses). runs/s = 1000 / mean.",
    "- Memory is VmRSS from /proc/<pid>/status, pids from `warm status --json` (RSS counts shared pages — the node binary, shared libraries — in every process).",
    "- The machine is a 2-vCPU Firecracker VM: timings are noisy, and a vCPU that has been idle is slow for its first microseconds (~5×), which the paced mode pays on every run. Other work on the machine (see the load average above) shows up as noise too.",
    "",
  ];
  r.cases.forEach((c, i) => out.push(...caseSection(c, i + 1)));
  out.push("## Processes left running", "");
  out.push(
    r.leftover.length === 0
      ? "None: after the run no warm daemon, warm process or prettierd of this benchmark is alive (checked by pid and command line; the daemons were also looked for by command line)."
      : `**Left running:** ${r.leftover.join(", ")}`,
    "",
  );
  return out.join("\n");
}
