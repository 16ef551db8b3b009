// Runs the corpus: each tool's project in its own directory of one private
// warm installation (one daemon for every tool), each command directly once
// and then through the real shim, piped and at a terminal, resetting the
// project and the home directory between runs, and says how each warm run
// differed from the direct one (stdout, stderr, status, files written in
// the project and under HOME) and which way warm ran it.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Terminal } from "../helpers/terminal";
import { ROOT, WARM, type WarmEnv } from "../helpers/warm-env";
import { restore, snapshot, type Tree, treeDiff } from "./tree";
import type { Case, Normalise, Tool } from "./types";

/** Warm runs per command: piped, then the last one at a terminal (against a direct run at the same terminal). */
export const WARM_RUNS = 5;

/** The longest one run may take, piped or at a terminal (a real tool on a busy machine: cspell at a terminal took over 20 s under load 25). */
const RUN_LIMIT_MS = 120_000;

/** Debian's tools by their own names (not a pyenv shim), npm's from this repo. */
export const CORPUS_PATH = `${join(ROOT, "node_modules", ".bin")}:/usr/bin:/bin`;

export interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  files: Tree;
  /** The home directory after the run (caches, configs, temp directories a tool keeps there: ansible's ~/.ansible/tmp). */
  home: Tree;
  ms: number;
  /** Why the shim ran it directly ("" if it did not say). */
  why: string;
}

export interface CaseResult {
  tool: string;
  case: string;
  /** One line per warm run that differed from the direct run, with how. */
  diffs: string[];
  /** Of the warm runs, how many the daemon ran warm and how many it sent back to run directly; which did ("w"/"d" each, in order). */
  warm: number;
  direct: number;
  ways: string;
  /** Why the shim ran it directly (WARM_DEBUG's trace), when it did. */
  why: string;
  directMs: number;
  warmMs: number[];
  /** A pool was still starting warm processes 20 s after a run (learning that does not converge). */
  unsettled?: boolean;
}

export class Corpus {
  readonly home: string;
  readonly tmp: string;
  readonly env: NodeJS.ProcessEnv;
  private trees = new Map<string, { proj: Tree; home: Tree; skip: string[] }>();
  /** Pools that were there before the current tool's first run: settle() does not wait for them. */
  private others = new Set<string>();

  constructor(readonly w: WarmEnv) {
    this.home = join(w.dir, "home");
    this.tmp = join(w.dir, "tmp");
    mkdirSync(this.home);
    mkdirSync(this.tmp);
    // npm's update check asks the registry now and then, and prints a notice
    // when the answer comes back in time: not the tool's output under test.
    writeFileSync(join(this.home, ".npmrc"), "update-notifier=false\nfund=false\naudit=false\n");
    // The same PATH, home, temp dir and locale on every machine.
    this.env = { ...w.env, PATH: CORPUS_PATH, HOME: this.home, TMPDIR: this.tmp, LANG: "C.UTF-8", WARM_DEBUG: "1" };
    delete this.env.LC_ALL;
    delete this.env.XDG_CACHE_HOME;
  }

  dir(tool: Tool): string {
    return join(this.w.dir, "projects", tool.tool);
  }

  /** Writes the tool's project, runs its setup, and records the state every run starts from. */
  prepare(tool: Tool): void {
    const dir = this.dir(tool);
    mkdirSync(dir, { recursive: true });
    for (const [path, content] of Object.entries(tool.files)) {
      const full = join(dir, path);
      if (path.endsWith("/")) mkdirSync(full, { recursive: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    for (const argv of tool.setup ?? []) {
      const r = spawnSync(argv[0], argv.slice(1), { cwd: dir, env: this.env, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${tool.tool} setup ${argv.join(" ")}: ${r.stderr}`);
    }
    const skip = (tool.keep ?? []).map((k) => k.path);
    this.trees.set(tool.tool, { proj: snapshot(dir, skip), home: snapshot(this.home), skip });
    this.others = new Set(this.w.status()?.pools.map((p) => p.key) ?? []);
  }

  /** Back to the state every run starts from (the project and the shared home). */
  reset(tool: Tool): void {
    const t = this.trees.get(tool.tool)!;
    restore(this.dir(tool), t.proj, t.skip);
    restore(this.home, t.home);
  }

  private files(tool: Tool): Tree {
    return snapshot(this.dir(tool), this.trees.get(tool.tool)!.skip);
  }

  /** The home directory as a run left it, with what legitimately differs per run in files' names and bytes replaced (homeNormalise). */
  private homeTree(tool: Tool): Tree {
    const tree: Tree = new Map();
    for (const [path, entry] of snapshot(this.home)) {
      const rule = entry.kind === "file" ? (tool.homeNormalise ?? []).find((r) => r.path.test(path)) : undefined;
      if (!rule) tree.set(path, entry);
      else if (!rule.rules) tree.set(path, { ...entry, data: Buffer.alloc(0) });
      else tree.set(normalise(path, rule.rules), { ...entry, data: Buffer.from(normalise(entry.data.toString("latin1"), rule.rules), "latin1") });
    }
    return tree;
  }

  /** One run, piped, directly or through bin/warm. */
  run(tool: Tool, c: Case, via: "direct" | "warm"): Outcome {
    this.reset(tool);
    const argv = via === "warm" ? [WARM, ...c.argv] : c.argv;
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), {
      cwd: this.dir(tool),
      env: this.env,
      input: c.stdin ?? "",
      timeout: RUN_LIMIT_MS,
      maxBuffer: 64 * 1024 * 1024,
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.error) throw r.error;
    const { text: stderr, why } = untrace(r.stderr.toString("latin1"));
    return { status: r.status, signal: r.signal, stdout: normalise(r.stdout.toString("latin1"), c.normalise), stderr: normalise(stderr, c.normalise), files: this.files(tool), home: this.homeTree(tool), ms, why };
  }

  /** One run at a terminal (stdout and stderr on it; stdin too unless the case pipes some). */
  async runAtTerminal(tool: Tool, c: Case, via: "direct" | "warm", term: Terminal): Promise<Outcome> {
    this.reset(tool);
    let line = (via === "warm" ? [WARM, ...c.argv] : c.argv).map(shellQuote).join(" ");
    if (c.stdin !== undefined) {
      const input = join(this.tmp, `${tool.tool}.stdin`);
      writeFileSync(input, c.stdin);
      line += ` < ${shellQuote(input)}`;
    }
    await term.expect(/\$ $/, "the prompt"); // bash prints it after the last sentinel
    const from = term.screen.length;
    const start = process.hrtime.bigint();
    const status = await term.status(line, RUN_LIMIT_MS);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    // The screen from after the echoed command line to the status sentinel.
    const screen = term.screen.slice(from);
    const body = screen.slice(screen.indexOf("\n") + 1);
    const sentinels = [...body.matchAll(/S[0-9a-z]+=\d+/g)];
    const out = body.slice(0, sentinels[sentinels.length - 1].index);
    const { text, why } = untrace(out);
    return { status, signal: null, stdout: normalise(text, c.normalise), stderr: "", files: this.files(tool), home: this.homeTree(tool), ms, why };
  }

  /** A terminal in the tool's project, with the corpus environment. */
  terminal(tool: Tool): Terminal {
    return new Terminal(this.env, this.dir(tool));
  }

  private counts(): { runs: number; direct: number } {
    const s = this.w.status();
    return { runs: s?.runs ?? 0, direct: s?.direct ?? 0 };
  }

  /** Waits (up to 20 s) until none of the current tool's pools is starting a warm process, so the next run finds one ready; false if one never got there. */
  async settle(): Promise<boolean> {
    try {
      await this.w.until("", () => {
        const s = this.w.status();
        return !s || s.pools.every((p) => p.starting === 0 || this.others.has(p.key));
      }, 20_000);
      return true;
    } catch {
      return false;
    }
  }

  /** The whole check of one command: a direct run, WARM_RUNS - 1 warm runs piped, then direct and warm at a terminal. */
  async check(tool: Tool, c: Case, term: Terminal): Promise<CaseResult> {
    const result: CaseResult = { tool: tool.tool, case: c.name, diffs: [], warm: 0, direct: 0, ways: "", why: "", directMs: 0, warmMs: [] };
    const direct = this.run(tool, c, "direct");
    result.directMs = direct.ms;
    const way = (before: { runs: number; direct: number }) => {
      const now = this.counts();
      result.warm += now.runs - before.runs;
      result.direct += now.direct - before.direct;
      result.ways += now.runs > before.runs ? "w" : now.direct > before.direct ? "d" : "?";
    };
    // Each warm run first waits for the tool's pools to settle (the last run's
    // replacement ready), not after: a direct run goes on meanwhile, and the
    // replacement after a tool's last run is not waited for.
    let last: Outcome | null = null;
    for (let i = 1; i < WARM_RUNS; i++) {
      if (!(await this.settle())) result.unsettled = true;
      if (last) this.leftLater(tool, last, `warm run ${i - 1} (piped)`, result);
      const before = this.counts();
      const got = this.run(tool, c, "warm");
      way(before);
      result.warmMs.push(got.ms);
      const d = differences(got, direct);
      if (d) result.diffs.push(`warm run ${i} (piped): ${d}`);
      if (got.why) result.why = got.why;
      last = got;
    }
    if (last) this.leftLater(tool, last, `warm run ${WARM_RUNS - 1} (piped)`, result);
    const termDirect = await this.runAtTerminal(tool, c, "direct", term);
    if (!(await this.settle())) result.unsettled = true;
    const before = this.counts();
    const termWarm = await this.runAtTerminal(tool, c, "warm", term);
    way(before);
    const d = differences(termWarm, termDirect);
    if (d) result.diffs.push(`warm run ${WARM_RUNS} (terminal): ${d}`);
    if (termWarm.why) result.why = termWarm.why;
    return result;
  }

  /**
   * What changed under HOME after a warm run ended and before the next run
   * (while warm started its next processes): a direct run changes nothing
   * once it has exited. (A template that made ansible's
   * ~/.ansible/tmp/ansible-local-* while preloading did it here, between
   * runs, and left it there.) After a tool's last run, nothing waits.
   */
  private leftLater(tool: Tool, run: Outcome, which: string, result: CaseResult): void {
    const later = treeDiff(this.homeTree(tool), run.home);
    if (later) result.diffs.push(`after ${which}, while warm processes started: home: ${later.replace(/directly/g, "right after the run").replace(/\n/g, "; ")}`);
  }
}

/** How a warm run differs from the direct one ("" if it does not). */
export function differences(got: Outcome, want: Outcome): string {
  const out: string[] = [];
  if (got.status !== want.status || got.signal !== want.signal) out.push(`status ${got.status ?? got.signal}, directly ${want.status ?? want.signal}`);
  if (got.stdout !== want.stdout) out.push(`stdout ${textDiff(got.stdout, want.stdout)}`);
  if (got.stderr !== want.stderr) out.push(`stderr ${textDiff(got.stderr, want.stderr)}`);
  const files = treeDiff(got.files, want.files);
  if (files) out.push(`files: ${files.replace(/\n/g, "; ")}`);
  const home = treeDiff(got.home, want.home);
  if (home) out.push(`home: ${home.replace(/\n/g, "; ")}`);
  return out.join(" | ");
}

/** The first differing line of two texts, with its number. */
function textDiff(got: string, want: string): string {
  const g = got.split("\n");
  const w = want.split("\n");
  for (let i = 0; i < Math.max(g.length, w.length); i++) {
    if (g[i] !== w[i]) return `line ${i + 1}: warm ${JSON.stringify(g[i] ?? "<none>").slice(0, 300)}, directly ${JSON.stringify(w[i] ?? "<none>").slice(0, 300)}`;
  }
  return "differs";
}

// Every run has WARM_DEBUG=1 (the direct ones too, so the tool's env is the
// same), so the shim says why it ran a command directly; its trace lines are
// the shim's, not the tool's, and are taken out before comparing.
const TRACE = /warm\[\d+\] \+\d+\.\d{3}ms ([^\n]*)\n/g;

function untrace(text: string): { text: string; why: string } {
  const said = [...text.matchAll(TRACE)].map((m) => m[1].replace(/\r$/, ""));
  const direct = said.some((line) => /directly/.test(line));
  // The reason is the line that says so; when the shim decided alone, its whole trace.
  const why = said.find((line) => line.startsWith("daemon says direct: "))?.slice(20) ?? (direct ? said.join(" / ") : "");
  return { text: text.replace(TRACE, ""), why };
}

export function normalise(text: string, rules: Normalise[] = []): string {
  return rules.reduce((t, r) => t.replace(r.re, r.to), text);
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
