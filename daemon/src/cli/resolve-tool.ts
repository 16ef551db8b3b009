// What a tool name runs, as a warm link would run it: the PATH lookup the
// shim does (skipping warm's own links), then the daemon's own decision of
// whether that program runs warm (runtimes/program.ts).
import { readFileSync, statSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import type { RunRequest } from "../protocol/messages";
import { identify } from "../runtimes/program";
import { isWarmLink } from "./install";

export interface ToolInfo {
  name: string;
  /** The program the name runs (null: not found). */
  exe: string | null;
  /** How it runs warm, or null with `why` it does not. */
  kind: "node" | "python" | "coprocess" | null;
  why: string;
}

/** A name a link may have: a plain file name, not one of warm's own. */
export function badName(name: string): string | null {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) return `"${name}" is not a command name`;
  if (name === "warm") return `"warm" is warm itself`;
  if (name.startsWith("-")) return `"${name}" looks like an option`;
  return null;
}

/** The config's tools, read as plain JSON (a file that does not parse configures nothing). */
export function configuredTools(configFile: string): Record<string, Record<string, unknown>> {
  try {
    const parsed = JSON.parse(readFileSync(configFile, "utf8")) as { tools?: Record<string, Record<string, unknown>> };
    return parsed && typeof parsed.tools === "object" && parsed.tools ? parsed.tools : {};
  } catch {
    return {};
  }
}

/** PATH without these directories (warm's links dirs), as a list. */
export function pathWithout(pathValue: string, skip: string[]): string[] {
  const skipped = new Set(skip.map((d) => resolve(d)));
  return pathValue.split(delimiter).filter((d) => !skipped.has(resolve(d || ".")));
}

/** execvp's lookup over `dirs`, passing over warm's links (they would run warm, not the tool). */
export function which(name: string, dirs: string[]): string | null {
  for (const dir of dirs) {
    const candidate = resolve(dir || ".", name);
    if (isWarmLink(candidate)) continue;
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function resolveTool(name: string, dirs: string[], tools: Record<string, Record<string, unknown>>): ToolInfo {
  const exe = which(name, dirs);
  const coprocess = tools[name] && "coprocess" in tools[name];
  if (coprocess) return { name, exe, kind: "coprocess", why: "a coprocess in the config" };
  if (!exe) return { name, exe, kind: null, why: `${name}: not found on PATH` };
  const request = { exe: Buffer.from(exe), argv: [Buffer.from(name)], env: [Buffer.from(`PATH=${dirs.join(delimiter)}`)] } as RunRequest;
  const program = identify(request, process.cwd());
  if ("direct" in program) return { name, exe, kind: null, why: program.direct };
  const label = program.kind === "node" ? "a Node CLI" : "a Python CLI";
  return { name, exe, kind: program.kind, why: program.scriptFromExe ? `${label} (${program.interpreter})` : `${label}: the interpreter itself` };
}

