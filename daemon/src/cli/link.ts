// `warm link TOOL...`: a link per tool in warm's bin dir, pointing at the
// installed shim (installed or refreshed first). A name is refused, with
// the reason, unless it runs a Node CLI, a Python CLI or a configured
// coprocess; a file of another's in the way is never overwritten.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { resolvePaths } from "../paths";
import { dataDirs } from "./dirs";
import { install, isWarmLink, replaceSymlink } from "./install";
import { badName, configuredTools, pathWithout, resolveTool } from "./resolve-tool";
import type { Context } from "./word";

export const help = `NAME
    warm link - put warm links for tools on PATH

SYNOPSIS
    warm link [TOOL...]

DESCRIPTION
    Installs warm's shim (a copy of this one) as $XDG_DATA_HOME/warm/libexec/warm
    (else ~/.local/share/warm/...), and in $XDG_DATA_HOME/warm/bin makes a link
    named TOOL for each TOOL, plus one named warm. With that directory first on
    PATH (see warm shell-init), running TOOL runs it warm.

    A TOOL is refused, with the reason, unless its name on PATH runs a Node CLI,
    a Python CLI or node/python itself, or the config names it a coprocess
    (tools.TOOL.coprocess). A file in the bin directory that is not warm's own
    link is never overwritten. Run warm link again after moving or upgrading the
    checkout warm was built in: links stay, the installed shim is refreshed.

EXIT STATUS
    0 when every TOOL was linked, 1 when any was refused.
`;

export function run(args: string[], ctx: Context): number {
  const dirs = dataDirs();
  for (const line of install(dirs, ctx.shim)) process.stdout.write(`${line}\n`);
  const own = join(dirs.bin, "warm");
  if (placeLink(own, dirs.shim) === "taken") process.stderr.write(`warm link: ${own} is not warm's; left alone\n`);
  const dirsOnPath = pathWithout(process.env.PATH ?? "", [dirs.bin]);
  const tools = configuredTools(resolvePaths().configFile);
  let refused = 0;
  for (const name of args) {
    const why = badName(name);
    const info = why ? null : resolveTool(name, dirsOnPath, tools);
    if (why || !info?.kind) {
      process.stderr.write(`warm link: ${name}: refused: ${why ?? info?.why}\n`);
      refused++;
      continue;
    }
    const path = join(dirs.bin, name);
    if (placeLink(path, dirs.shim) === "taken") {
      process.stderr.write(`warm link: ${name}: refused: ${path} exists and is not a link of warm's; nothing overwritten\n`);
      refused++;
      continue;
    }
    process.stdout.write(`${path} -> ${dirs.shim}: ${info.exe ?? name}, ${info.why}\n`);
  }
  if (!pathWithout(process.env.PATH ?? "", []).some((d) => d === dirs.bin)) {
    process.stderr.write(`warm link: ${dirs.bin} is not on PATH: add eval "$(warm shell-init bash)" (or zsh, fish) to your shell's rc file\n`);
  }
  return refused ? 1 : 0;
}

/** Makes `path` a link to `shim` unless something not warm's is there. */
function placeLink(path: string, shim: string): "made" | "taken" {
  let exists = true;
  try {
    lstatSync(path);
  } catch {
    exists = false;
  }
  if (exists && !isWarmLink(path)) return "taken";
  replaceSymlink(shim, path);
  return "made";
}
