// `warm status` as a person reads it: times in ms, direct runs by reason,
// and one line per pool, labelled by its tool and, where one tool has
// several pools, by what differs in their keys.

export interface PoolStatus {
  tool: string;
  /** What this pool's key is made of, by name (tty mask, env values, cwd...), to tell pools of one tool apart. */
  facets: Record<string, string>;
  ready: number;
  starting: number;
  hits: number;
  misses: number;
  /** How long its last process took to get ready (ms), or null. */
  startMs: number | null;
  broken: boolean;
  /** Below its size because the limits left no room (until its next caller). */
  limited: boolean;
  /** How the pool starts its processes and why (Node: "fork: ..." or "spawn: ..."); "" if nothing to say. */
  mode: string;
}

export interface StatusData {
  version: string;
  pid: number;
  uptimeSeconds: number;
  configError: string | null;
  configWarnings: string[];
  /** State or log files the daemon goes on without (said once each). */
  fileProblems: string[];
  running: number;
  /** Tools whose learning is not yet written to the state dir (written in batches, a moment after learning). */
  unsavedLearning: number;
  runs: number;
  direct: number;
  directByReason: Record<string, number>;
  handOffP50Ms: number;
  runP50Ms: number;
  pools: PoolStatus[];
}

const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;

// A label shows at most this many of a key's facets, each value cut to VALUE_MAX
// characters: a tool that lists the environment has a facet per variable.
const FACETS_SHOWN = 4;
const VALUE_MAX = 40;

/**
 * For each pool, what sets it apart from the other pools of its tool ("" if
 * it is its tool's only one): the facets whose values differ first, then
 * those its siblings lack (learned after they were made), capped.
 */
export function differences(pools: PoolStatus[]): string[] {
  return pools.map((p) => {
    const siblings = pools.filter((q) => q !== p && q.tool === p.tool);
    if (siblings.length === 0) return "";
    const names = Object.keys(p.facets).filter((name) => siblings.some((q) => q.facets[name] !== p.facets[name]));
    if (names.length === 0) return `pool ${pools.filter((q) => q.tool === p.tool).indexOf(p) + 1}`;
    const everyoneHas = (name: string) => siblings.every((q) => q.facets[name] !== undefined);
    names.sort((a, b) => Number(everyoneHas(b)) - Number(everyoneHas(a)));
    const cut = (v: string) => (v.length > VALUE_MAX ? `${v.slice(0, VALUE_MAX - 1)}…` : v);
    const shown = names.slice(0, FACETS_SHOWN).map((name) => `${name}=${cut(p.facets[name] ?? "unset")}`);
    if (names.length > FACETS_SHOWN) shown.push(`+${names.length - FACETS_SHOWN} more`);
    return shown.join(", ");
  });
}

const STREAMS = ["stdin", "stdout", "stderr"];

/** A pool's label with its tty mask in words: `eslint [---]` reads `eslint [no terminal]`. */
export function spelledLabel(tool: string): string {
  const m = / \[([t-]{3})\]$/.exec(tool);
  if (!m) return tool;
  const ttys = STREAMS.filter((_s, fd) => m[1][fd] === "t");
  const words = ttys.length === 0 ? "no terminal" : ttys.length === 3 ? "at a terminal" : `terminal: ${ttys.join(", ")}`;
  return `${tool.slice(0, m.index)} [${words}]`;
}

export function statusText(d: StatusData): string {
  const lines = [
    `warm ${d.version}, daemon pid ${d.pid}, up ${d.uptimeSeconds}s`,
    ...(d.configError ? [`config error: ${d.configError} (using defaults)`] : []),
    ...d.configWarnings.map((w) => `config warning: ${w}`),
    ...d.fileProblems.map((p) => `going on without: ${p}`),
    `runs: ${d.runs} warm, ${d.direct} direct, ${d.running} running`,
    `latency p50: hand-off ${ms(d.handOffP50Ms)}, whole run ${ms(d.runP50Ms)}`,
  ];
  const reasons = Object.entries(d.directByReason);
  if (reasons.length > 0) lines.push("direct runs, by reason:", ...reasons.map(([why, n]) => `  ${String(n).padStart(5)}  ${why}`));
  lines.push(`pools: ${d.pools.length}`);
  const differs = differences(d.pools);
  d.pools.forEach((p, i) => {
    const label = differs[i] ? `${spelledLabel(p.tool)} (${differs[i]})` : spelledLabel(p.tool);
    lines.push(`  ${label}: ${p.ready} ready, ${p.starting} starting, ${p.hits} hits, ${p.misses} misses${p.startMs !== null ? `, starts in ${p.startMs} ms` : ""}${p.broken ? " (stopped: keeps failing)" : ""}${p.limited ? " (gave way to other pools: the limits)" : ""}${p.mode ? `; ${p.mode}` : ""}`);
  });
  return lines.join("\n") + "\n";
}
