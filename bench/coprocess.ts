// The coprocess benchmark cases (any language through the coprocess
// protocol), their goals and their section of bench/results.md. bench/run.ts
// runs them with every other case; `npx tsx bench/coprocess.ts` runs only
// these and replaces their section of results.md.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { type CaseResult, type CaseSpec, cmd, type Peer, runCase } from "./lib/bench-case";
import { caseSection, type Goal } from "./lib/report";
import type { WarmInstance } from "./lib/warm-instance";

const WARM = "bin/warm";
const NOOP = "bench/out/coprocess/noop";
const RUBY = "bench/coprocess/report.rb";
const PERL = "bench/coprocess/report.pl";
const ARGS = ["--format", "all", "alpha", "beta", "gamma", "delta"];
const BEGIN = "<!-- coprocess cases: written by bench/coprocess.ts -->";
const END = "<!-- end of coprocess cases -->";

/** Builds the C no-op coprocess; says what is missing for the Ruby and Perl cases, if anything. */
export function prepareCoprocessCases(repo: string): string[] {
  mkdirSync(join(repo, "bench", "out", "coprocess"), { recursive: true });
  const cc = spawnSync("cc", ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-o", join(repo, NOOP), join(repo, "bench/coprocess/noop.c"), join(repo, "coprocess/c/warm_coprocess.c")], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`building ${NOOP}: ${cc.stderr}`);
  const missing: string[] = [];
  if (spawnSync("ruby", ["-e", "require 'webrick'; require 'xmlrpc/client'; require 'net/telnet'"]).status !== 0) missing.push("ruby with ruby-webrick, ruby-xmlrpc, ruby-net-telnet (apt-get install ruby)");
  if (spawnSync("perl", ["-MMoose", "-MDateTime", "-MYAML::XS", "-MJSON", "-MSocket::MsgHdr", "-e", "0"]).status !== 0) missing.push("apt-get install libmoose-perl libdatetime-perl libyaml-libyaml-perl libjson-perl libsocket-msghdr-perl");
  return missing;
}

/** The C no-op needs a config entry (a binary has no line for the marker): written into the case's own config dir when its instance is made. */
function noopConfig(inst: WarmInstance): Peer {
  const dir = join(inst.env.XDG_CONFIG_HOME!, "warm");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ tools: { noop: { coprocess: { mode: "fork" } } } }));
  return {
    start: async () => ['Config (the case\'s own): `{"tools": {"noop": {"coprocess": {"mode": "fork"}}}}`.'],
    memory: () => [],
    stop: async () => [],
  };
}

function scriptCase(id: string, title: string, script: string, what: string): CaseSpec {
  const direct = `${script.split("/").pop()} (direct)`;
  const warm = `warm ${script.split("/").pop()}`;
  return {
    id,
    title,
    what,
    commands: [cmd(direct, [script, ...ARGS]), cmd(warm, [WARM, script, ...ARGS])],
    direct,
    warm,
    backToBack: [direct, warm],
    paced: { runs: 20, warmup: 3 },
    b2b: { runs: 20, warmup: 3 },
    same: [[direct, warm]],
  };
}

export function coprocessCases(): CaseSpec[] {
  return [
    {
      id: "coprocess-noop",
      title: "Coprocess protocol cost: a C coprocess that does nothing",
      what: `\`${NOOP}\` (bench/coprocess/noop.c: coprocess/c's library around a main that returns 0; run directly it is a /bin/true) through warm, against \`/bin/true\` and the same binary run directly, in one run: what the shim, the daemon and the protocol (run; taken and exit on the run link, started and exit to the shim on the client link; the fork-mode child's fork and reaping) cost over spawning a process that does nothing.`,
      commands: [cmd("/bin/true", ["/bin/true"]), cmd("noop (direct)", [NOOP]), cmd("warm noop", [WARM, NOOP])],
      direct: "/bin/true",
      warm: "warm noop",
      backToBack: ["/bin/true", "noop (direct)", "warm noop"],
      paced: { runs: 50, warmup: 5 },
      b2b: { runs: 50, warmup: 5 },
      same: [["noop (direct)", "warm noop"]],
      peer: noopConfig,
    },
    scriptCase(
      "coprocess-ruby",
      "Ruby: a CLI requiring ~25 libraries, made warm by the documented patch",
      RUBY,
      `\`${RUBY} ${ARGS.join(" ")}\`: a Ruby script (Debian's ruby 3.1) that requires ~25 of Ruby's standard and Debian-packaged libraries (json, yaml, optparse, erb, net/http, openssl, bigdecimal, csv, rexml, ripper, webrick, xmlrpc, net/telnet, ...) and prints its arguments as JSON, YAML, CSV and ERB. Its warm patch is the two lines the README shows (fork mode, declared by its \`# warm: coprocess\` line).`,
    ),
    scriptCase(
      "coprocess-perl",
      "Perl: a CLI using Moose, DateTime, YAML::XS and JSON, made warm by the documented patch",
      PERL,
      `\`${PERL} ${ARGS.join(" ")}\`: a Perl script (Debian's perl 5.36) loading CPAN modules from Debian (Moose, DateTime, YAML::XS, JSON) and defining a Moose class, printing its arguments as JSON and YAML with a DateTime computation. Its warm patch is the lines the README shows (fork mode, with Socket::MsgHdr; declared by its \`# warm: coprocess\` line), with \`quick_exit => 1\`: a run's child skips perl's global destruction (the tool leaves nothing for it to do).`,
    ),
  ];
}

function p50(c: CaseResult | undefined, mode: string, name: string | undefined): number | undefined {
  return c?.modes.find((m) => m.mode === mode)?.rows.find((r) => r.name === name)?.p50;
}

export function coprocessGoals(results: CaseResult[]): Goal[] {
  const goals: Goal[] = [];
  for (const id of ["coprocess-ruby", "coprocess-perl"]) {
    const c = results.find((r) => r.spec.id === id);
    for (const mode of ["paced", "back-to-back"]) {
      const d = p50(c, mode, c?.spec.direct);
      const w = p50(c, mode, c?.spec.warm);
      goals.push({
        goal: `${id.replace("coprocess-", "")}: >= 10x warm (${mode})`,
        target: "direct p50 / warm p50 >= 10, for a start-up >= 100 ms",
        measured: d && w ? `${(d / w).toFixed(1)}× (${d.toFixed(1)} ms → ${w.toFixed(2)} ms)` : "n/a",
        met: d && w ? d / w >= 10 : null,
        how: `p50s of the direct and warm rows in the same ${mode} hyperfine run; output checked identical first.`,
      });
    }
  }
  const noop = results.find((r) => r.spec.id === "coprocess-noop");
  const w = p50(noop, "paced", "warm noop");
  const t = p50(noop, "paced", "/bin/true");
  goals.push({
    goal: "the protocol's own cost",
    target: "warm no-op coprocess p50 − /bin/true p50 (reported, no target in the issue)",
    measured: w && t ? `${(w - t).toFixed(3)} ms (${w.toFixed(3)} ms vs ${t.toFixed(3)} ms, paced)` : "n/a",
    met: null,
    how: "both rows in the same paced hyperfine run: every warm run finds the coprocess ready and forks a child for it.",
  });
  return goals;
}

/** The section of results.md for these cases (headings one level below the report's). */
export function coprocessSection(results: CaseResult[], loadBefore: string): string {
  const goals = coprocessGoals(results);
  const lines = [
    BEGIN,
    "## Coprocesses: tools in any language (protocol-spec/coprocess.md)",
    "",
    `Load average (1/5/15 min) at the start of these cases: ${loadBefore}; at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    "| goal | target | measured | met? |",
    "|---|---|---|---|",
    ...goals.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met === null ? "—" : g.met ? "met" : "**not met**"} |`),
    "",
    ...results.flatMap((c, i) => caseSection(c, i + 1).map((l) => (l.startsWith("#") ? `#${l.replace(/^## (\d+)\./, "## C$1.")}` : l))),
    END,
  ];
  return lines.join("\n") + "\n";
}

/** Puts the section into results.md: in place of the old one, or at the end. */
export function writeCoprocessSection(file: string, section: string): void {
  let md = "";
  try {
    md = readFileSync(file, "utf8");
  } catch {
    // none yet
  }
  const a = md.indexOf(BEGIN);
  const b = md.indexOf(END);
  md = a >= 0 && b > a ? md.slice(0, a) + section + md.slice(b + END.length + 1) : `${md.trimEnd()}\n\n${section}`;
  writeFileSync(file, md);
}

export async function runCoprocessCases(repo: string): Promise<{ results: CaseResult[]; section: string }> {
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(" ");
  const missing = prepareCoprocessCases(repo);
  if (missing.length > 0) throw new Error(`bench: the coprocess cases need: ${missing.join("; ")}`);
  const results: CaseResult[] = [];
  for (const spec of coprocessCases()) results.push(await runCase(spec, repo));
  return { results, section: coprocessSection(results, loadBefore) };
}

if (require.main === module) {
  const repo = resolve(__dirname, "..");
  process.chdir(repo);
  void runCoprocessCases(repo).then(({ results, section }) => {
    writeCoprocessSection(join(repo, "bench", "results.md"), section);
    for (const g of coprocessGoals(results)) process.stderr.write(`  ${g.met === null ? "n/a    " : g.met ? "met    " : "NOT MET"}  ${g.goal}: ${g.measured}\n`);
    const failed = results.filter((c) => c.error || c.checks.some((ch) => !ch.ok) || c.leftover.length > 0);
    if (failed.length > 0) process.stderr.write(`cases with failures: ${failed.map((c) => c.spec.id).join(", ")} (see bench/results.md)\n`);
    process.exitCode = failed.length > 0 ? 1 : 0;
  });
}
