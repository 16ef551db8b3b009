// `warm doctor`: checks what a user's setup can get wrong, says how to fix
// each problem, and exits 0 only when there is none.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parseConfig } from "../config";
import { resolvePaths } from "../paths";
import { WARM_VERSION } from "../version";
import { dataDirs } from "./dirs";
import { isWarmLink } from "./install";
import { type LinkRow, listLinks } from "./links";
import { configuredTools, pathWithout, resolveTool, which } from "./resolve-tool";
import type { Context } from "./word";

export const help = `NAME
    warm doctor - check warm's setup

SYNOPSIS
    warm doctor

DESCRIPTION
    Checks, and for each problem says how to fix it: the node that runs the
    daemon (>= 20) and python3 (>= 3.9, a real CPython rather than a wrapper
    script), that warm's addon loads, the socket directory's owner and mode,
    that the config parses, the installed shim and its daemon files, links on
    PATH that point at a missing shim, a running daemon of another version,
    tools named in the config or linked that are not found, and whether
    warm's links directory is first on PATH. Lines start with "ok", "note" (not wrong, worth
    knowing) or "PROBLEM" (followed by "fix:").

EXIT STATUS
    0 when there is no problem, 1 otherwise.
`;

interface Finding {
  level: "ok" | "note" | "PROBLEM";
  what: string;
  fix?: string;
}

const ok = (what: string): Finding => ({ level: "ok", what });
const note = (what: string): Finding => ({ level: "note", what });
const problem = (what: string, fix: string): Finding => ({ level: "PROBLEM", what, fix });

function checkNode(): Finding {
  const major = Number(process.versions.node.split(".")[0]);
  return major >= 20 ? ok(`node ${process.version} (${process.execPath})`) : problem(`node ${process.version} is too old (warm needs >= 20)`, "install Node.js 20 or later, or point WARM_NODE at one");
}

function checkPython(dirsOnPath: string[]): Finding {
  const python = which("python3", dirsOnPath);
  if (!python) return note("python3 is not on PATH: Python tools run directly if at all (apt-get install python3)");
  const r = spawnSync(python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  const [major, minor] = (r.stdout ?? "").trim().split(".").map(Number);
  if (r.status !== 0 || !(major > 3 || (major === 3 && minor >= 9))) return problem(`python3 (${python}) is ${r.stdout?.trim() || "not runnable"}; warm needs CPython >= 3.9`, "install python3 >= 3.9");
  const info = resolveTool("python3", dirsOnPath, {});
  if (info.kind !== "python") return note(`python3 ${major}.${minor} on PATH is ${python}, which runs directly (${info.why}); Python CLIs whose shebang names a real python still run warm`);
  return ok(`python3 ${major}.${minor} (${python})`);
}

function checkAddon(): Finding {
  try {
    require("../native");
    return ok("warm's addon loads");
  } catch (error) {
    return problem(`warm's addon does not load: ${(error as Error).message.split("\n")[0]}`, "rebuild it in warm's checkout: npm run build:addon (or npm ci)");
  }
}

function checkSocketDir(dir: string): Finding {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return ok(`socket directory ${dir} (made 0700 when the daemon starts)`);
  }
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) return problem(`${dir} is not a directory: warm runs every tool directly`, `remove it: rm ${dir}`);
  if (st.uid !== uid) return problem(`${dir} is owned by uid ${st.uid}, not you (${uid}): warm runs every tool directly`, `it is not yours to use: set XDG_RUNTIME_DIR to a directory of your own, or have its owner remove it`);
  if ((st.mode & 0o077) !== 0) return problem(`${dir} has mode ${(st.mode & 0o777).toString(8)}: others may enter, so warm runs every tool directly`, `chmod 700 ${dir}`);
  return ok(`socket directory ${dir} is yours, mode 700`);
}

function checkConfig(file: string): { finding: Finding; tools: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { finding: ok(`no config file (${file}): defaults`), tools: [] };
  }
  const parsed = parseConfig(text);
  if ("error" in parsed) return { finding: problem(`the config does not parse: ${file}: ${parsed.error}`, "correct the file (warm uses the defaults until then)"), tools: [] };
  return { finding: ok(`config ${file} parses`), tools: Object.keys(parsed.config.tools) };
}

function checkConfiguredTools(tools: string[], dirsOnPath: string[], raw: Record<string, Record<string, unknown>>): Finding[] {
  return tools.flatMap((name) => {
    if ("coprocess" in (raw[name] ?? {})) return [];
    // Tools named by a script (`node x.js`) are looked up by whoever runs them.
    if (/\.(c|m)?js$|\.py$/.test(name)) return [];
    const found = name.includes("/") ? existsSync(resolve(name)) : which(name, dirsOnPath) !== null;
    return found ? [] : [problem(`tools.${name} is configured but ${name} is not found${name.includes("/") ? "" : " on PATH"}`, `install ${name}, or remove tools.${name} from the config`)];
  });
}

function checkInstall(shim: string): Finding[] {
  const dirs = dataDirs();
  if (!existsSync(dirs.shim)) return [note(`warm is not installed in ${dirs.data} (warm link installs it)`)];
  const out: Finding[] = [];
  if (!existsSync(join(dirs.daemon, "dist", "main.js"))) {
    out.push(problem(`the installed shim's daemon files (${dirs.daemon}) are gone (a moved or removed checkout): linked tools run directly`, "run warm link from warm's checkout"));
  }
  const r = spawnSync(dirs.shim, ["--version"], { encoding: "utf8" });
  const version = (r.stdout ?? "").trim().replace(/^warm /, "");
  if (version !== WARM_VERSION) out.push(problem(`the installed shim (${dirs.shim}) is warm ${version || "?"}, these files are warm ${WARM_VERSION}`, `run ${shim} link`));
  return out.length ? out : [ok(`installed shim ${dirs.shim} (warm ${version})`)];
}

/** Warm links anywhere on PATH whose shim is gone. */
function checkBrokenLinks(pathDirs: string[]): Finding[] {
  const out: Finding[] = [];
  for (const dir of new Set(pathDirs)) {
    let entries;
    try {
      entries = readdirSync(dir || ".", { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isSymbolicLink() && isWarmLink(path) && !existsSync(path)) out.push(problem(`${path} points at a missing shim`, `run warm link ${e.name} (or warm unlink ${e.name}, or remove it)`));
    }
  }
  return out;
}

function checkPath(pathDirs: string[], all: LinkRow[]): Finding {
  const dirs = dataDirs();
  const links = all.filter((l) => l.state !== "not warm's");
  const at = pathDirs.findIndex((d) => resolve(d || ".") === dirs.bin);
  if (links.length === 0) return at < 0 ? note(`no links yet (warm link TOOL), and ${dirs.bin} is not on PATH`) : ok(`${dirs.bin} is on PATH (no links yet)`);
  const fix = `add eval "$(warm shell-init bash)" to ~/.bashrc (zsh: ~/.zshrc; fish: warm shell-init fish | source in config.fish)`;
  if (at < 0) return problem(`PATH does not include warm's links directory ${dirs.bin}: ${links.map((l) => l.name).join(", ")} run directly`, fix);
  // A linked tool's own directory before the links dir wins the lookup.
  const shadowed = links.filter((l) => l.exe && pathDirs.slice(0, at).some((d) => existsSync(join(d || ".", l.name))));
  if (shadowed.length) return problem(`${dirs.bin} is on PATH after the real ${shadowed.map((l) => l.name).join(", ")}, which then run directly`, `put it first: ${fix}`);
  return ok(`${dirs.bin} is on PATH, first for its ${links.length} links`);
}

/** Links of warm's whose tool is no longer found (removed, or its directory left PATH): the shell says "command not found". */
function checkLinkedTools(links: LinkRow[]): Finding[] {
  return links
    .filter((l) => l.state === "direct" && l.exe === null)
    .map((l) => problem(`${l.name} is linked, but no ${l.name} is found on PATH past warm's links (removed, or its directory left PATH)`, `reinstall it, or warm unlink ${l.name}`));
}

function checkDaemon(shim: string): Finding {
  const r = spawnSync(shim, ["status", "--json"], { encoding: "utf8" });
  if (r.status !== 0) return ok("no daemon running (the first warm run starts one)");
  try {
    const status = JSON.parse(r.stdout) as { version: string; pid: number; configError: string | null };
    if (status.version !== WARM_VERSION) return problem(`a daemon of warm ${status.version} (pid ${status.pid}) is running; this is warm ${WARM_VERSION}`, "warm stop (the next run starts one of this version)");
    return ok(`daemon pid ${status.pid}, warm ${status.version}`);
  } catch {
    return problem("the running daemon's status is not readable", "warm stop");
  }
}

export function run(args: string[], ctx: Context): number {
  if (args.length > 0) {
    process.stderr.write(`warm doctor: unknown argument ${args[0]}\n`);
    return 2;
  }
  const paths = resolvePaths();
  const pathDirs = (process.env.PATH ?? "").split(delimiter);
  const dirsOnPath = pathWithout(process.env.PATH ?? "", [dataDirs().bin]);
  const config = checkConfig(paths.configFile);
  const raw = configuredTools(paths.configFile);
  const links = listLinks();
  const findings = [
    checkNode(),
    checkPython(dirsOnPath),
    checkAddon(),
    checkSocketDir(paths.runtimeDir),
    config.finding,
    ...checkConfiguredTools(config.tools, dirsOnPath, raw),
    ...checkInstall(ctx.shim),
    ...checkBrokenLinks(pathDirs),
    checkPath(pathDirs, links),
    ...checkLinkedTools(links),
    checkDaemon(ctx.shim),
  ];
  for (const f of findings) process.stdout.write(`${f.level.padEnd(7)} ${f.what}\n${f.fix ? `        fix: ${f.fix}\n` : ""}`);
  const problems = findings.filter((f) => f.level === "PROBLEM").length;
  process.stdout.write(problems ? `${problems} problem${problems > 1 ? "s" : ""}\n` : "all is well\n");
  return problems ? 1 : 0;
}
