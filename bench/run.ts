// The warm benchmark suite: `npx tsx bench/run.ts` measures every case in
// one run and writes bench/results.md (overwriting it, except the section
// bench/corpus.ts writes). See bench/README.md.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { type CaseResult, type CaseSpec, cmd, type Peer, runCase } from "./lib/bench-case";
import { generateCli, linesPerModule } from "./lib/generate-cli";
import { hyperfineVersion, type Timing } from "./lib/hyperfine";
import { buildFloorClient, FLOOR_CLIENT } from "./lib/design-floor";
import { describeMachine } from "./lib/machine";
import { writeMain } from "./lib/results-section";
import { Chg } from "./lib/chg";
import { generateHgRepo } from "./lib/hg-repo";
import { PRETTIERD, Prettierd } from "./lib/peer";
import { type Goal, renderReport } from "./lib/report";
import { rssKiB, type WarmInstance } from "./lib/warm-instance";
import { writeChart } from "./chart";
import { prepareCoprocessCases, runCoprocessCases } from "./coprocess";

const REPO = resolve(__dirname, "..");
const WARM = "bin/warm";
const PRETTIER = "node_modules/.bin/prettier";
const NOOP = "bench/fixtures/noop.js";
const FORMAT_INPUT = "bench/fixtures/a.js";
const CLI_DIR = "bench/out/cli300";
const TSC = "node_modules/.bin/tsc";
const ESLINT = "node_modules/.bin/eslint";
const ESLINT_CONFIG = "bench/fixtures/eslint.config.cjs";
const TS_PROJECT = "bench/fixtures/tsproject";
// `cli300` on PATH: the CLI as a command (bin/), and a multi-call warm shim named after it (warm-bin/).
const CLI_BIN = "bench/out/bin";
const WARM_BIN = "bench/out/warm-bin";
const LOOPS = 200;
const HG_REPO = "bench/out/hg50";

function preflight(): string {
  const hf = hyperfineVersion();
  if (!hf) {
    process.stderr.write("bench: hyperfine is not installed (or not on PATH). Install it with:\n  apt-get install hyperfine\n");
    process.exit(1);
  }
  for (const tool of ["hg", "chg"]) {
    if (installed(tool)) continue;
    process.stderr.write(`bench: ${tool} is not installed. Install Mercurial with:\n  apt-get install mercurial\n`);
    process.exit(1);
  }
  for (const f of [WARM, "daemon/dist/main.js", PRETTIER, PRETTIERD, ESLINT, TSC]) {
    if (!existsSync(join(REPO, f))) {
      process.stderr.write(`bench: ${f} is missing; run \`npm install\` and \`npm run build\` first\n`);
      process.exit(1);
    }
  }
  return hf;
}

function installed(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

/** Format through `sh -c 'exec ... < a.js'`: prettierd reads the source on stdin, and every row pays the same shell. */
const viaSh = (line: string): string[] => ["sh", "-c", `exec ${line} < ${FORMAT_INPUT}`];

function prettierdPeer(inst: WarmInstance): Peer {
  const p = new Prettierd(REPO, inst.env);
  let pids: number[] = [];
  return {
    async start() {
      pids = await p.start();
      return [`Peer: \`${PRETTIERD} start\` before timing (its server, pid ${pids.join(" ")}, runs in this case's private XDG_RUNTIME_DIR), \`${PRETTIERD} stop\` after.`];
    },
    memory: () => pids.map((pid) => ({ what: `prettierd server pid ${pid} (VmRSS)`, kib: rssKiB(pid) })),
    async stop() {
      return (await p.stop()).map((pid) => `prettierd pid ${pid}`);
    },
  };
}

function chgPeer(inst: WarmInstance): Peer {
  const c = new Chg(REPO, inst.env);
  let pids: number[] = [];
  return {
    async start() {
      pids = await c.start();
      return [`Peer: a first \`chg version -q\` before timing starts chg's server (pid ${pids.join(" ")}, in this case's private XDG_RUNTIME_DIR), \`chg --kill-chg-daemon\` after.`];
    },
    memory: () => c.find().map((pid) => ({ what: `chg server pid ${pid} (VmRSS)`, kib: rssKiB(pid) })),
    async stop() {
      return (await c.stop()).map((pid) => `chg pid ${pid}`);
    },
  };
}

/** The Mercurial cases: plain hg, chg (Mercurial's own command server) and warm, in one run. */
function hgCase(id: string, title: string, args: string[], what: string): CaseSpec {
  return {
    id,
    title,
    what,
    commands: [cmd(`hg ${args.join(" ")}`, ["hg", ...args]), cmd(`chg ${args.join(" ")}`, ["chg", ...args]), cmd(`warm hg ${args.join(" ")}`, [WARM, "hg", ...args])],
    direct: `hg ${args.join(" ")}`,
    warm: `warm hg ${args.join(" ")}`,
    peers: [`chg ${args.join(" ")}`],
    backToBack: [`hg ${args.join(" ")}`, `chg ${args.join(" ")}`, `warm hg ${args.join(" ")}`],
    paced: { runs: 30, warmup: 5 },
    b2b: { runs: 30, warmup: 5 },
    same: [
      [`hg ${args.join(" ")}`, `warm hg ${args.join(" ")}`],
      [`hg ${args.join(" ")}`, `chg ${args.join(" ")}`],
    ],
    peer: chgPeer,
  };
}

/** `cli300` as a command on PATH, and a warm shim of that name to put before it. */
function cliCommands(): void {
  mkdirSync(join(REPO, CLI_BIN), { recursive: true });
  mkdirSync(join(REPO, WARM_BIN), { recursive: true });
  const bin = join(REPO, CLI_BIN, "cli300");
  writeFileSync(bin, `#!/usr/bin/env node\nrequire(${JSON.stringify(join(REPO, CLI_DIR, "cli.js"))});\n`);
  chmodSync(bin, 0o755);
  const shim = join(REPO, WARM_BIN, "cli300");
  rmSync(shim, { force: true });
  symlinkSync(join(REPO, WARM), shim);
}

/** sh -c with PATH extended by these repo dirs. */
const withPath = (dirs: string[], line: string): string[] => ["sh", "-c", `PATH=${dirs.map((d) => join(REPO, d)).join(":")}:$PATH; ${line}`];

function cases(cliModules: number, cliLines: number): CaseSpec[] {
  const cli = `${CLI_DIR}/cli.js`;
  const loop = (prefix: string) => ["sh", "-c", `for i in $(seq ${LOOPS}); do ${prefix}node ${cli}; done | tail -1`];
  return [
    {
      id: "floor",
      title: "Process spawn floor: /bin/true",
      what: "What starting any process costs here, the shim on its own (`--version` never contacts the daemon), and `warm /bin/true`: a native binary that is not node or python, which the shim execs itself without asking the daemon. No warm pool is involved, so there is only the back-to-back mode.",
      commands: [cmd("/bin/true", ["/bin/true"]), cmd("warm --version", [WARM, "--version"]), cmd("warm /bin/true", [WARM, "/bin/true"])],
      direct: "/bin/true",
      backToBack: ["/bin/true", "warm --version", "warm /bin/true"],
      b2b: { runs: 200, warmup: 20 },
      same: [["/bin/true", "warm /bin/true"]],
    },
    {
      id: "noop",
      title: "Empty Node script",
      what: `\`node ${NOOP}\` (an empty file) direct vs through warm: node's own start-up against warm's whole per-run cost. \`/bin/true\` is timed in the same paced run as the spawn floor for the overhead estimate, and so is the design floor (bench/lib/design-floor.ts): a node process started ahead and blocked in its preload phase, woken by one byte on a FIFO from a static C client, running the same empty file through Node's own bootstrap and answering with one byte from its 'exit' event. No daemon, no fd passing, nothing to take on: the least a warm Node run, one fresh process per run, can cost here.`,
      commands: [cmd("/bin/true", ["/bin/true"]), cmd("design floor", [FLOOR_CLIENT]), cmd("node noop", ["node", NOOP]), cmd("warm node noop", [WARM, "node", NOOP])],
      direct: "node noop",
      warm: "warm node noop",
      backToBack: ["node noop", "warm node noop"],
      paced: { runs: 50, warmup: 3 },
      b2b: { runs: 50, warmup: 3 },
      same: [["node noop", "warm node noop"]],
      traceRuns: 30,
      designFloor: "design floor",
    },
    {
      id: "cli300",
      title: `Generated CLI requiring ${cliModules} modules`,
      what: `A CLI generated under ${CLI_DIR} by bench/lib/generate-cli.ts: 25 node_modules packages of 12 CommonJS modules each (${cliLines} lines per module: a CRC table built at load, a class, a regex parser), each package also requiring the previous one; \`cli.js\` requires all of them and prints one line with the number of modules loaded and a checksum over all of them. Cold (\`node cli.js\`) vs warm.`,
      commands: [cmd("node cli.js (cold)", ["node", cli]), cmd("warm node cli.js", [WARM, "node", cli])],
      direct: "node cli.js (cold)",
      warm: "warm node cli.js",
      backToBack: ["node cli.js (cold)", "warm node cli.js"],
      paced: { runs: 30, warmup: 3 },
      b2b: { runs: 30, warmup: 3 },
      same: [["node cli.js (cold)", "warm node cli.js"]],
      expectStdout: new RegExp(`^cli300: ${cliModules} modules loaded, checksum [0-9a-f]{8}\\n$`),
    },
    {
      id: "prettier-version",
      title: "A real CLI from npm: prettier --version",
      what: `\`${PRETTIER} --version\` (prettier's real CLI: a \`#!/usr/bin/env node\` script that imports its ESM CLI) direct vs warm.`,
      commands: [cmd("prettier --version", [PRETTIER, "--version"]), cmd("warm prettier --version", [WARM, PRETTIER, "--version"])],
      direct: "prettier --version",
      warm: "warm prettier --version",
      backToBack: ["prettier --version", "warm prettier --version"],
      paced: { runs: 30, warmup: 3 },
      b2b: { runs: 20, warmup: 3 },
      same: [["prettier --version", "warm prettier --version"]],
    },
    {
      id: "prettier-format",
      title: `Formatting a file: prettier ${FORMAT_INPUT}`,
      what: `Formatting ${FORMAT_INPUT} (~100 lines) with prettier direct, through warm, and with prettierd (a peer daemon: its client is itself a node script that sends the source over loopback TCP to a long-lived server). prettierd reads the source from stdin, so all three rows run as \`sh -c 'exec … < ${FORMAT_INPUT}'\`: the same shell and the same stdin for every row.`,
      commands: [
        cmd("prettier a.js", viaSh(`${PRETTIER} ${FORMAT_INPUT}`)),
        cmd("warm prettier a.js", viaSh(`${WARM} ${PRETTIER} ${FORMAT_INPUT}`)),
        cmd("prettierd", viaSh(`${PRETTIERD} ${FORMAT_INPUT}`)),
      ],
      direct: "prettier a.js",
      warm: "warm prettier a.js",
      peers: ["prettierd"],
      backToBack: ["prettier a.js", "warm prettier a.js", "prettierd"],
      paced: { runs: 20, warmup: 3 },
      b2b: { runs: 20, warmup: 3 },
      same: [
        ["prettier a.js", "warm prettier a.js"],
        ["prettier a.js", "prettierd"],
      ],
      peer: prettierdPeer,
    },
    {
      id: "eslint",
      title: `Linting a file: eslint ${FORMAT_INPUT}`,
      what: `eslint (CommonJS; the dev dependency) with its recommended rules (${ESLINT_CONFIG}) on ${FORMAT_INPUT}, direct vs warm.`,
      commands: [
        cmd("eslint a.js", [ESLINT, "--config", ESLINT_CONFIG, FORMAT_INPUT]),
        cmd("warm eslint a.js", [WARM, ESLINT, "--config", ESLINT_CONFIG, FORMAT_INPUT]),
      ],
      direct: "eslint a.js",
      warm: "warm eslint a.js",
      backToBack: ["eslint a.js", "warm eslint a.js"],
      paced: { runs: 20, warmup: 3 },
      b2b: { runs: 20, warmup: 3 },
      same: [["eslint a.js", "warm eslint a.js"]],
    },
    {
      id: "tsc",
      title: `Type-checking a small project: tsc --noEmit -p ${TS_PROJECT}`,
      what: `TypeScript's compiler checking two small files (its run is ~1 s of CPU: the lib .d.ts files). The adaptive case: warm serves a tool whose runs cost this much CPU from pre-started processes (multi-threaded V8) rather than forked single-threaded children, so it must not be slower than direct either way.`,
      commands: [cmd("tsc --noEmit", [TSC, "--noEmit", "-p", TS_PROJECT]), cmd("warm tsc --noEmit", [WARM, TSC, "--noEmit", "-p", TS_PROJECT])],
      direct: "tsc --noEmit",
      warm: "warm tsc --noEmit",
      backToBack: ["tsc --noEmit", "warm tsc --noEmit"],
      paced: { runs: 10, warmup: 2 },
      b2b: { runs: 10, warmup: 2 },
      same: [["tsc --noEmit", "warm tsc --noEmit"]],
    },
    {
      id: "loop200",
      title: `A shell loop running the ${cliModules}-module CLI ${LOOPS} times`,
      what: `\`for i in $(seq ${LOOPS}); do node ${cli}; done\`, as a script or Makefile would, directly and through warm: the total time of the loop.`,
      commands: [cmd(`${LOOPS}× node cli.js`, loop("")), cmd(`${LOOPS}× warm node cli.js`, loop(`${WARM} `))],
      direct: `${LOOPS}× node cli.js`,
      warm: `${LOOPS}× warm node cli.js`,
      backToBack: [`${LOOPS}× node cli.js`, `${LOOPS}× warm node cli.js`],
      b2b: { runs: 2, warmup: 0 },
      learnRuns: 1,
      same: [[`${LOOPS}× node cli.js`, `${LOOPS}× warm node cli.js`]],
    },
    {
      id: "node-test-suite",
      title: "A test suite that runs a CLI in each of its 100 tests",
      what: `\`node --test bench/fixtures/cli-suite.test.js\`: node's test runner with 100 tests, each \`execFileSync("cli300")\` (the ${cliModules}-module CLI as a command on PATH, ${CLI_BIN}/cli300). The warm row puts a shim named \`cli300\` (a symlink to bin/warm) first on PATH; nothing else changes. Total time of the suite.`,
      commands: [
        cmd("node --test (direct)", withPath([CLI_BIN], "exec node --test bench/fixtures/cli-suite.test.js | grep -c '^ok'")),
        cmd("node --test (warm shim on PATH)", withPath([WARM_BIN, CLI_BIN], "exec node --test bench/fixtures/cli-suite.test.js | grep -c '^ok'")),
      ],
      direct: "node --test (direct)",
      warm: "node --test (warm shim on PATH)",
      backToBack: ["node --test (direct)", "node --test (warm shim on PATH)"],
      b2b: { runs: 3, warmup: 0 },
      learnRuns: 1,
      same: [["node --test (direct)", "node --test (warm shim on PATH)"]],
    },
    hgCase("hg-version", "Mercurial: hg version -q", ["version", "-q"], "Debian's Mercurial (`/usr/bin/hg`, a Python script) printing its version: plain hg, chg (Mercurial's own C client and forking command server) and warm (a template that preloaded what hg's runs imported, forking a child per run)."),
    hgCase("hg-status", "Mercurial: hg status in a 50-file repo", ["--cwd", HG_REPO, "status"], `\`hg status\` in ${HG_REPO}, a repo generated by bench/lib/hg-repo.ts: 50 committed files, 3 of them modified, 2 unknown files. Plain hg vs chg vs warm.`),
  ];
}

function timing(c: CaseResult | undefined, mode: string, name: string | undefined): Timing | undefined {
  return c?.modes.find((m) => m.mode === mode)?.rows.find((r) => r.name === name);
}

function goals(results: CaseResult[]): { goals: Goal[]; notes: string[] } {
  const byId = (id: string) => results.find((c) => c.spec.id === id);
  const noop = byId("noop");
  const cli = byId("cli300");
  const floor = byId("floor");
  const warmNoop = timing(noop, "paced", noop?.spec.warm);
  const trueNoop = timing(noop, "paced", "/bin/true");
  const designFloor = timing(noop, "paced", noop?.spec.designFloor);
  const cold = timing(cli, "paced", cli?.spec.direct);
  const warmCli = timing(cli, "paced", cli?.spec.warm);
  const st = noop?.pacedStatus;
  const out: Goal[] = [];
  out.push({
    goal: "warm no-op is fast",
    target: "warm node noop p50 <= 1.5 ms",
    measured: warmNoop ? `${warmNoop.p50.toFixed(3)} ms (paced)${designFloor ? `; design floor ${designFloor.p50.toFixed(3)} ms` : ""}` : "n/a",
    met: warmNoop ? warmNoop.p50 <= 1.5 : null,
    how: "p50 of `bin/warm node bench/fixtures/noop.js` in paced mode (every run a hit). The design floor (same paced run) is what a pre-started node woken by one byte costs with nothing of warm's in it: a target below it cannot be met by any warm Node run on this machine.",
  });
  out.push({
    goal: "the 300-module CLI is >= 10x faster warm",
    target: "cold p50 / warm p50 >= 10",
    measured: cold && warmCli ? `${(cold.p50 / warmCli.p50).toFixed(1)}× (${cold.p50.toFixed(1)} ms → ${warmCli.p50.toFixed(2)} ms, paced)` : "n/a",
    met: cold && warmCli ? cold.p50 / warmCli.p50 >= 10 : null,
    how: "p50 of `node bench/out/cli300/cli.js` over p50 of `bin/warm node bench/out/cli300/cli.js`, both in the same paced hyperfine run.",
  });
  for (const id of ["hg-version", "hg-status"]) {
    const c = byId(id);
    const chg = timing(c, "paced", c?.spec.peers?.[0]);
    const warm = timing(c, "paced", c?.spec.warm);
    const hg = timing(c, "paced", c?.spec.direct);
    out.push({
      goal: `${c?.spec.title ?? id}: warm at or below chg`,
      target: "warm p50 <= chg p50 (aim: 0.5× chg)",
      measured: chg && warm && hg ? `warm ${warm.p50.toFixed(2)} ms = ${(warm.p50 / chg.p50).toFixed(2)}× chg (${chg.p50.toFixed(2)} ms); hg ${hg.p50.toFixed(1)} ms` : "n/a",
      met: chg && warm ? warm.p50 <= chg.p50 : null,
      how: "p50s of plain hg, chg and warm hg in the same paced hyperfine run (every warm run finds a forked child waiting).",
    });
  }
  const notes: string[] = [];
  let path: number | null = null;
  if (warmNoop && trueNoop && st) {
    const inProcess = st.runP50Ms - st.handOffP50Ms;
    path = warmNoop.p50 - trueNoop.p50 - inProcess;
    notes.push(
      `warm no-op p50 ${warmNoop.p50.toFixed(3)} ms = process spawn floor (/bin/true, same paced run) ${trueNoop.p50.toFixed(3)} ms + the no-op run inside the warm process ${inProcess.toFixed(3)} ms + the shim ↔ daemon path ${path.toFixed(3)} ms (the remainder).`,
      `From the daemon receiving the request to the warm process saying it has taken the run (hand-off p50; it counts the warm process waking and taking over the fds, env, cwd and argv): ${st.handOffP50Ms.toFixed(3)} ms.`,
      `Everything warm adds over spawning a process that does nothing (warm no-op p50 − /bin/true p50, an upper bound that also counts the in-process run): ${(warmNoop.p50 - trueNoop.p50).toFixed(3)} ms.`,
    );
  }
  const step = (re: RegExp) => noop?.trace.find((t) => re.test(t.step))?.p50;
  const sent = step(/^run request sent/);
  const started = step(/^`started`/);
  const exited = step(/^`exit`/);
  if (sent !== undefined && started !== undefined && exited !== undefined) {
    notes.push(
      `Seen from the shim (\`WARM_DEBUG=1\` traces, medians): ${sent.toFixed(3)} ms from its main() to the request sent, ${(started - sent).toFixed(3)} ms more until the warm process says it has taken the run (\`started\`, which it writes to the shim itself), ${(exited - started).toFixed(3)} ms more until \`exit\` (the tool's run in the warm process and its exit report, also written to the shim by the process).`,
    );
  }
  const wTrue = timing(floor, "back-to-back", "warm /bin/true");
  const bTrue = timing(floor, "back-to-back", "/bin/true");
  const ver = timing(floor, "back-to-back", "warm --version");
  if (wTrue && bTrue) {
    notes.push(
      `Cross-check: \`bin/warm /bin/true\` (a native binary: the shim execs it without asking the daemon) p50 ${wTrue.p50.toFixed(3)} ms vs \`/bin/true\` ${bTrue.p50.toFixed(3)} ms: the shim's start-up and one more execve cost ${(wTrue.p50 - bTrue.p50).toFixed(3)} ms${ver ? ` (the shim alone, \`bin/warm --version\`: ${ver.p50.toFixed(3)} ms)` : ""}.`,
    );
  }
  out.push({
    goal: "the shim-to-daemon path is cheap",
    target: "<= 0.5 ms added to the tool's own work",
    measured: path === null ? "n/a" : `${path.toFixed(3)} ms`,
    met: path === null ? null : path <= 0.5,
    how:
      "estimated as warm no-op p50 − /bin/true p50 (both from the same paced run: a warm run still spawns one process, the shim, as a direct run spawns node) − the in-process time of the no-op run, which the daemon measures as its run p50 − hand-off p50 (from the warm process saying it has taken the run until it reports that the tool finished and its fds are closed; it includes warm's own work inside the process after taking over fds, env, cwd and argv: the exit report). What remains is the shim's connect, request and reply, and the daemon's handling, including its wake-ups. Caveats: the daemon's p50s are over its whole window (learning and warmup runs included) and are medians of different samples from the wall-clock p50s, so the difference is an estimate, not an exact decomposition.",
  });
  return { goals: out, notes };
}

/** Our daemons still alive anywhere: warm daemons or prettierd servers whose environment names a benchmark temp dir. */
function strays(): string[] {
  const out: string[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, "utf8");
      if (!/XDG_RUNTIME_DIR=[^\0]*\/warm-bench-/.test(env)) continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (cmdline.includes("daemon/dist/main.js") || cmdline.includes("prettierd") || cmdline.includes("warm_template.py") || cmdline.includes("chgunix")) out.push(`pid ${name} (${cmdline})`);
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  process.chdir(REPO);
  const machine = describeMachine(preflight(), REPO);
  // What the coprocess cases need, before the ~20 minutes of the others rather than after.
  const missing = prepareCoprocessCases(REPO);
  if (missing.length > 0) {
    process.stderr.write(`bench: the coprocess cases need: ${missing.join("; ")}\n`);
    process.exit(1);
  }
  buildFloorClient(REPO);
  const cli = generateCli(join(REPO, CLI_DIR));
  cliCommands();
  generateHgRepo(join(REPO, HG_REPO));
  const results: CaseResult[] = [];
  // BENCH_CASES=id,id runs only those (for development; results.md then holds only them).
  const only = process.env.BENCH_CASES?.split(",");
  for (const spec of cases(cli.modules, linesPerModule(cli))) if (!only || only.includes(spec.id)) results.push(await runCase(spec, REPO));
  const coprocess = await runCoprocessCases(REPO); // bench/coprocess.ts: its own section of the report
  const { goals: g, notes } = goals(results);
  const leftover = [...results.flatMap((c) => c.leftover), ...coprocess.results.flatMap((c) => c.leftover), ...strays()];
  const seconds = (Date.now() - t0) / 1000;
  const loadAfter = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  const md = renderReport({ machine, loadAfter, seconds, goals: g, overheadNotes: notes, cases: results, leftover });
  writeMain(join(REPO, "bench", "results.md"), `${md.trimEnd()}\n\n${coprocess.section}`);
  writeChart(join(REPO, "bench"));
  process.stderr.write(`\nwrote bench/results.md (${seconds.toFixed(0)} s)\n`);
  for (const goal of g) process.stderr.write(`  ${goal.met === null ? "n/a" : goal.met ? "met    " : "NOT MET"}  ${goal.goal}: ${goal.measured}\n`);
  const failed = [...results, ...coprocess.results].filter((c) => c.error || c.checks.some((ch) => !ch.ok));
  if (failed.length > 0) process.stderr.write(`cases with failures: ${failed.map((c) => c.spec.id).join(", ")} (see bench/results.md)\n`);
  if (leftover.length > 0) process.stderr.write(`left running: ${leftover.join(", ")}\n`);
  process.exitCode = failed.length > 0 || leftover.length > 0 ? 1 : 0;
}

void main();
