// `warm links`: each link in warm's bin dir, what it runs and whether warm.
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG, parseConfig, toolSettings } from "../config";
import { resolvePaths } from "../paths";
import { dataDirs } from "./dirs";
import { isWarmLink } from "./install";
import { configuredTools, pathWithout, resolveTool } from "./resolve-tool";
import type { Context } from "./word";

export const help = `NAME
    warm links - list warm links

SYNOPSIS
    warm links

DESCRIPTION
    For each link in warm's bin directory: its name, the program it runs (the
    next one of that name on PATH) and whether that runs warm ("warm: a Node
    CLI", "direct: <why>"), or that the link is broken (the shim it points at
    is missing: run warm link again). Files there that are not warm's are
    listed as such.
`;

export interface LinkRow {
  name: string;
  /** Where the link points. */
  target: string;
  state: "warm" | "direct" | "broken" | "not warm's";
  /** The program it runs, or null. */
  exe: string | null;
  why: string;
}

export function listLinks(): LinkRow[] {
  const dirs = dataDirs();
  let names: string[];
  try {
    names = readdirSync(dirs.bin).sort();
  } catch {
    return [];
  }
  const paths = resolvePaths();
  const dirsOnPath = pathWithout(process.env.PATH ?? "", [dirs.bin]);
  const tools = configuredTools(paths.configFile);
  const config = readConfig(paths.configFile);
  return names
    .filter((name) => name !== "warm" && !name.includes(".tmp-"))
    .map((name): LinkRow => {
      const path = join(dirs.bin, name);
      if (!isWarmLink(path)) return { name, target: "", state: "not warm's", exe: null, why: "not a link of warm's" };
      const target = readlinkSync(path);
      if (!existsSync(path)) return { name, target, state: "broken", exe: null, why: `${target} is missing: run warm link ${name}` };
      const info = resolveTool(name, dirsOnPath, tools);
      if (!info.kind) return { name, target, state: "direct", exe: info.exe, why: info.why };
      if (toolSettings(config, [name]).disable) return { name, target, state: "direct", exe: info.exe, why: "disabled in the config" };
      return { name, target, state: "warm", exe: info.exe, why: info.why };
    });
}

function readConfig(file: string) {
  try {
    const parsed = parseConfig(readFileSync(file, "utf8"));
    return "config" in parsed ? parsed.config : DEFAULT_CONFIG;
  } catch {
    return DEFAULT_CONFIG;
  }
}

export function run(args: string[], _ctx: Context): number {
  if (args.length > 0) {
    process.stderr.write(`warm links: unknown argument ${args[0]}\n`);
    return 2;
  }
  const rows = listLinks();
  if (rows.length === 0) process.stdout.write(`no links in ${dataDirs().bin} (warm link TOOL makes one)\n`);
  for (const r of rows) process.stdout.write(`${r.name}\t${r.exe ?? "-"}\t${r.state}: ${r.why}\n`);
  return 0;
}
