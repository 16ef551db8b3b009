// `warm exec [--tools a,b] -- CMD...`: runs CMD (a test suite) with a
// private links dir first on PATH, so each child it starts by name runs
// warm, then prints one line of what warm did for it, from the daemon's own
// records of the runs that carried this session's WARM_EXEC_ID.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { constants } from "node:os";
import { ensurePrivateDir, resolvePaths } from "../paths";
import { EXEC_TAG, type ExecTally } from "../stats";
import { dataDirs } from "./dirs";
import { install, isWarmLink, replaceSymlink } from "./install";
import { listLinks } from "./links";
import { badName, configuredTools, pathWithout, resolveTool } from "./resolve-tool";
import { UsageError, type Context } from "./word";

export const help = `NAME
    warm exec - run a command whose children run warm

SYNOPSIS
    warm exec [--tools TOOL,TOOL...] [--] CMD [ARGS...]

DESCRIPTION
    Runs CMD (npm test, make check, pytest, ...) with a private directory of
    warm links first on PATH, so every child it starts by name (node, python3,
    a #!/usr/bin/env node script, hg, ...) runs warm. The tools are node,
    python3 and python when they are on PATH, and those linked with warm link;
    --tools names them instead (each must run a Node or Python CLI). The links
    point at the installed shim (installed or refreshed as warm link does).

    At the end, one line on stderr: the runs of this session that went warm,
    those the daemon sent to run directly, and the start-up time saved: for
    each warm run, the CPU time its warm process took to get ready (the start
    a direct run pays, done ahead here) less the hand-off, as the daemon
    measured them. It is not wall time: on a busy machine those start-ups
    still compete with CMD for the same CPUs (back to back, a Node warm run is
    no faster than a direct one). Runs that never reached the daemon are not
    counted.

    CMD gets WARM_EXEC_ID (whose runs the daemon counts for this session) and
    WARM_EXEC_BIN (the private links dir) in its environment. If warm cannot
    set up its links (an unsafe socket directory, say), CMD runs without them,
    after a note on stderr.

    What it cannot reach: a child started by absolute path, such as Node's
    child_process.fork() and workers started with process.execPath (jest,
    mocha --parallel, node --test's files) or Python's subprocesses of
    sys.executable (pytest-xdist): those run directly, as before. A suite can
    opt in by starting "$WARM_EXEC_BIN/node" (or python3) instead.

EXIT STATUS
    CMD's; 127 when CMD is not found, 126 when it cannot be run; 2 for a
    usage error. A CMD killed by a signal kills warm exec with it.
`;

const DEFAULT_TOOLS = ["node", "python3", "python"];

function parse(args: string[]): { tools: string[] | null; cmd: string[] } {
  let tools: string[] | null = null;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      i++;
      break;
    }
    if (a === "--tools" || a.startsWith("--tools=")) {
      const value = a === "--tools" ? args[++i] : a.slice("--tools=".length);
      if (value === undefined) throw new UsageError("--tools needs a list: --tools node,python3");
      tools = value.split(",").filter((t) => t !== "");
      continue;
    }
    if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    break;
  }
  const cmd = args.slice(i);
  if (cmd.length === 0) throw new UsageError("no command: warm exec [--tools a,b] -- CMD [ARGS...]");
  return { tools, cmd };
}

/** The tools to link: each as the name it runs (refused ones throw when named explicitly). */
function chooseTools(named: string[] | null, dirsOnPath: string[]): string[] {
  const config = configuredTools(resolvePaths().configFile);
  if (named) {
    for (const name of named) {
      const info = badName(name) === null ? resolveTool(name, dirsOnPath, config) : null;
      if (!info?.kind) throw new UsageError(`--tools ${name}: ${badName(name) ?? info?.why}`);
    }
    return [...new Set(named)].sort();
  }
  const linked = listLinks()
    .filter((l) => l.state === "warm")
    .map((l) => l.name);
  return [...new Set([...DEFAULT_TOOLS, ...linked])].filter((name) => resolveTool(name, dirsOnPath, config).kind !== null).sort();
}

/**
 * The private links dir for this set of tools: <runtime dir>/exec/<hash>,
 * kept between sessions so the PATH (part of a warm process's key) is the
 * same each time and the pools a session warmed serve the next one.
 */
function linksDir(tools: string[], shim: string): string {
  const paths = resolvePaths();
  ensurePrivateDir(paths.runtimeDir);
  const hash = createHash("sha256").update(JSON.stringify([shim, tools])).digest("hex").slice(0, 16);
  const dir = join(paths.runtimeDir, "exec", hash);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of tools) {
    const path = join(dir, name);
    let ok = false;
    try {
      ok = lstatSync(path).isSymbolicLink() && isWarmLink(path);
    } catch {
      // not there yet
    }
    if (!ok) replaceSymlink(shim, path);
  }
  return dir;
}

function summary(shim: string, session: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(shim, ["status", "--json"], { env, encoding: "utf8" });
  let tally: ExecTally = { warm: 0, direct: 0, savedMs: 0 };
  if (r.status === 0) {
    try {
      tally = (JSON.parse(r.stdout) as { exec?: Record<string, ExecTally> }).exec?.[session] ?? tally;
    } catch {
      // an older daemon's status: nothing counted
    }
  }
  const saved = tally.savedMs >= 1000 ? `${(tally.savedMs / 1000).toFixed(1)} s` : `${Math.round(tally.savedMs)} ms`;
  return `warm exec: ${tally.warm} runs warm, ${tally.direct} direct, ${saved} of start-up CPU time saved\n`;
}

export function run(args: string[], ctx: Context): Promise<number> {
  const { tools: named, cmd } = parse(args);
  const dirs = dataDirs();
  const dirsOnPath = pathWithout(process.env.PATH ?? "", [dirs.bin]);
  const tools = chooseTools(named, dirsOnPath);
  const session = randomBytes(8).toString("hex");
  let env: NodeJS.ProcessEnv = process.env;
  try {
    install(dirs, ctx.shim);
    const dir = linksDir(tools, dirs.shim);
    env = { ...process.env, PATH: [dir, ...(process.env.PATH ?? "").split(delimiter)].join(delimiter), [EXEC_TAG]: session, WARM_EXEC_BIN: dir };
  } catch (error) {
    // Slower, never different: CMD still runs, with nothing of warm's.
    process.stderr.write(`warm exec: ${(error as Error).message}; running ${cmd[0]} without warm\n`);
  }
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit", env });
    // As a shell does for its foreground job: the terminal's ^C and ^\ reach
    // CMD by its process group; other signals sent to us are passed on.
    const ignored = () => {};
    const passOn = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", ignored);
    process.on("SIGQUIT", ignored);
    for (const s of ["SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) process.on(s, passOn);
    child.on("error", (error: NodeJS.ErrnoException) => {
      const notFound = error.code === "ENOENT";
      process.stderr.write(`warm exec: ${cmd[0]}: ${notFound ? "command not found" : error.message}\n`);
      resolve(notFound ? 127 : 126);
    });
    child.on("exit", (code, signal) => {
      process.stderr.write(summary(ctx.shim, session, process.env));
      if (signal) {
        // Die of the same signal, so the caller sees what a direct run shows.
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
        resolve(128 + (constants.signals[signal] ?? 0));
        return;
      }
      resolve(code ?? 1);
    });
  });
}
