// Which of a tool's modules warm may preload: installed code only. A module
// of the user's own project (a test file mocha loads, a config a tool
// requires from the cwd) has top-level code that must run in the run that
// loads it, once per run, as it does directly; installed code is the same
// whatever project calls it. Installed means: inside a `node_modules`
// directory, under one of node's global module directories, or in the
// entry script's own package (a `node script.js` and its local lib/).
// Applied in both processes: by the daemon to what a run reports it loaded,
// and inside the warm process (inside-node/preload.ts) while preloading.
import { existsSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

export type Installed = (id: string) => boolean;

/** The directory of the nearest package.json above the entry (its realpath), or the entry's directory. */
export function entryPackage(scriptReal: string): string {
  for (let dir = dirname(scriptReal); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dir === dirname(dir)) return dirname(scriptReal);
  }
}

/**
 * The rule for one tool: its entry (realpath), the node binary (realpath;
 * its prefix's lib/node is a global module directory) and HOME (node also
 * searches ~/.node_modules and ~/.node_libraries). NODE_PATH is not one:
 * it often names the project itself.
 */
export function installedRule(scriptReal: string, nodeExe: string, home: string | undefined): Installed {
  const roots = [entryPackage(scriptReal), join(dirname(dirname(nodeExe)), "lib", "node")];
  if (home) roots.push(join(home, ".node_modules"), join(home, ".node_libraries"));
  // A package.json at / would make the whole disk the entry's package.
  const under = roots.filter((r) => r !== sep).map((r) => r + sep);
  return (id) => {
    // Built-ins and other non-file ids are not the project's.
    const file = id.startsWith("file:") ? fileURLToPath(id) : id;
    if (!file.startsWith("/")) return true;
    return file.includes(`${sep}node_modules${sep}`) || under.some((r) => file.startsWith(r));
  };
}
