// Where a Node tool's module resolution looked, and which names it picked
// there, for the change watch: in each ancestor directory of a loaded module
// (or of the entry), the name on the path to it; and in every node_modules
// directory beside those ancestors, the names of the packages the tool
// loaded (a new one there could be found before the one loaded).
import { existsSync } from "node:fs";
import { join, sep } from "node:path";

export function resolutionLookups(entry: string, files: string[]): Map<string, Set<string>> {
  const lookups = new Map<string, Set<string>>();
  const packages = new Set<string>();
  for (const file of [entry, ...files]) {
    const parts = file.split(sep);
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join(sep) || sep;
      let names = lookups.get(dir);
      if (!names) lookups.set(dir, (names = new Set()));
      if (names.has(parts[i])) continue;
      names.add(parts[i]);
      if (parts[i - 1] === "node_modules") packages.add(parts[i]);
    }
  }
  for (const dir of [...lookups.keys()]) {
    const nm = join(dir, "node_modules");
    if (lookups.has(nm) || !existsSync(nm)) continue;
    lookups.set(nm, new Set());
  }
  for (const [dir, names] of lookups) if (dir.endsWith(`${sep}node_modules`)) for (const p of packages) names.add(p);
  return lookups;
}
